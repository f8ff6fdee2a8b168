/**
 * @hicra/reference: the `hicra` command line. This module exports the library functions the
 * commands are built from.
 */

export * from './report/index.js';

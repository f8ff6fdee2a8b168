import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The charting library inlined into every report: uPlot's IIFE build and its stylesheet. */
export interface ChartLibraryAssets {
  readonly name: 'uPlot';
  readonly version: string;
  readonly script: string;
  readonly css: string;
}

let cached: ChartLibraryAssets | undefined;

/** Reads uPlot's browser build from the installed package once per process. */
export function chartLibraryAssets(): ChartLibraryAssets {
  if (cached === undefined) {
    const require = createRequire(import.meta.url);
    const manifest = JSON.parse(readFileSync(require.resolve('uplot/package.json'), 'utf8')) as {
      version: string;
    };
    cached = {
      name: 'uPlot',
      version: manifest.version,
      script: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return cached;
}

export {
  BUMP_TYPES,
  ChangesetCheckError,
  checkChangesets,
  findBaseCommit,
  isPacked,
  isVersionCommit,
  manifestChangeShips,
  notSourceReason,
  parseChangeset,
} from './check-changesets.mjs';
export {
  checkDependencyDirection,
  FORBIDDEN_PAIRS,
  forbiddenReason,
  importsOf,
  LAYERS,
  packageNameOf,
  SOURCE_SUBPATHS,
  SPEC_ONLY,
  sourceSubpathReason,
  TENSOR_CORE,
} from './check-deps.mjs';
export { checkExports, exportTargets, SOURCE_CONDITION } from './check-exports.mjs';
export { listSourceFiles, listWorkspacePackages, WORKSPACE_GLOBS } from './workspace.mjs';

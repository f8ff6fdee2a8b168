/** The Tinker training protocol (JSON, SDK <= 0.24): client, server and wire shapes. */
export {
  TINKER_BUILTIN_CAPABILITIES,
  TINKER_BUILTIN_FEATURES,
  type TinkerServerFeatures,
} from './capabilities.js';
export {
  TinkerSamplingClient,
  type TinkerSamplingClientOptions,
} from './sampling-client.js';
export {
  createTinkerServer,
  type InstalledTinkerProtocol,
  installTinkerProtocol,
  TINKER_SERVER_BODY_LIMIT_BYTES,
  type TinkerProtocolOptions,
  type TinkerServer,
  type TinkerServerOptions,
  tinkerErrorBody,
} from './server.js';
export {
  type FutureCall,
  type FutureResult,
  TINKER_DEFAULT_BASE_URL,
  type TinkerCallOptions,
  type TinkerConnectionOptions,
  TinkerSession,
  type TinkerSessionOptions,
} from './session.js';
export {
  type TinkerForwardOptions,
  TinkerTrainingClient,
  type TinkerTrainingClientOptions,
} from './training-client.js';
export * as tinkerWire from './wire.js';
export { HICRA_CAPABILITIES_VERSION, TINKER_PATHS, TINKER_SDK_VERSION } from './wire.js';

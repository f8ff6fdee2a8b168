// Registers tfjs-core's gradients (see scripts/bundle-gradients.mjs for why they are bundled).
// Imported by initBackend, never on package import.
import '../generated/register-gradients.mjs';

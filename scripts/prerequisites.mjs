// What the tests need that `pnpm install` does not provide. Each entry checks for itself and
// installs through the system package manager when it can, or stops with what to install.
// (Browser tests will add Debian's chromium here.)

/** Node >= 20 is the only prerequisite so far. */
export function ensureTestPrerequisites() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) {
    console.error(
      `hicra needs Node.js >= 20; this is ${process.version}. Install Node 20 or newer and retry.`,
    );
    process.exit(1);
  }
}

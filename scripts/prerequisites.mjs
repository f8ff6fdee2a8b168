// What the tests need that `pnpm install` does not provide. Each entry checks for itself and,
// when missing, installs through Debian's apt when that is possible (root and apt-get present),
// or stops with a message that says exactly what to install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** A Debian package the tests use, with the check that tells whether it is usable. */
const SYSTEM_REQUIREMENTS = [
  {
    what: 'NumPy for /usr/bin/python3 (the independent safetensors reader in @hicra/policy tests)',
    debianPackages: ['python3-numpy'],
    present: () => run('/usr/bin/python3', ['-c', 'import numpy']).status === 0,
  },
  {
    what: 'Chromium at /usr/bin/chromium (the headless-browser test of the report in @hicra/reference, driven by playwright-core)',
    debianPackages: ['chromium'],
    present: () => {
      const result = run('/usr/bin/chromium', ['--version']);
      return result.status === 0 && /chromium/i.test(result.stdout);
    },
  },
];

function run(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', ...options });
}

function canUseApt() {
  return (
    process.platform === 'linux' &&
    typeof process.getuid === 'function' &&
    process.getuid() === 0 &&
    existsSync('/usr/bin/apt-get')
  );
}

let aptUpdated = false;

function aptInstall(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    console.log('prerequisites: apt-get update');
    if (run('apt-get', ['update', '-qq'], { env, stdio: 'inherit' }).status !== 0) return false;
    aptUpdated = true;
  }
  console.log(`prerequisites: apt-get install ${packages.join(' ')}`);
  return (
    run('apt-get', ['install', '-y', '-qq', ...packages], { env, stdio: 'inherit' }).status === 0
  );
}

/** Installs or reports every missing prerequisite; exits the process when one cannot be met. */
export function ensureTestPrerequisites() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) {
    console.error(
      `hicra needs Node.js >= 20; this is ${process.version}. Install Node 20 or newer and retry.`,
    );
    process.exit(1);
  }
  for (const requirement of SYSTEM_REQUIREMENTS) {
    if (requirement.present()) continue;
    const packages = requirement.debianPackages;
    if (canUseApt() && aptInstall(packages) && requirement.present()) continue;
    console.error(
      `The tests need ${requirement.what}, which is missing. Install it and retry, e.g. on Debian or Ubuntu:\n` +
        `  sudo apt-get install ${packages.join(' ')}`,
    );
    process.exit(1);
  }
}

// Some npm registry mirrors serve a platform-specific binary package only for the platforms they
// carry. npm then leaves the other platforms' optional packages out of package-lock.json, and
// `npm ci` refuses the lockfile as out of sync. This adds those entries back, marked optional and
// limited to their os/cpu, so npm ci accepts the lockfile and never fetches them on another
// platform. Run it after `npm install` changes the lockfile: `node scripts/ci/lock-platforms.mjs`.
import { readFileSync, writeFileSync } from 'node:fs'

const file = process.argv[2] ?? 'package-lock.json'
const lock = JSON.parse(readFileSync(file, 'utf8'))
const packages = lock.packages

const osNames = ['android', 'darwin', 'freebsd', 'linux', 'openharmony', 'win32', 'sunos', 'openbsd', 'netbsd', 'aix', 'wasm32']
const cpuNames = { arm64: 'arm64', aarch64: 'arm64', x64: 'x64', armv7: 'arm', arm: 'arm', ia32: 'ia32', loong64: 'loong64', ppc64: 'ppc64', riscv64: 'riscv64', s390x: 's390x', wasm32: 'wasm32' }

function platformOf(name) {
  const parts = name.split('/').pop().split('-')
  const os = parts.find((p) => osNames.includes(p))
  const cpuPart = parts.find((p) => p in cpuNames || p.startsWith('arm'))
  if (!os || !cpuPart) return undefined
  const libc = parts.includes('musl') || parts.includes('musleabihf') ? 'musl' : parts.includes('gnu') || parts.includes('gnueabihf') ? 'glibc' : undefined
  return { os: os === 'wasm32' ? undefined : [os], cpu: [cpuNames[cpuPart] ?? 'arm'], libc: libc ? [libc] : undefined }
}

let added = 0
for (const [path, meta] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const at = `${path ? `${path}/` : ''}node_modules/${dep}`
    if (packages[at] || packages[`node_modules/${dep}`]) continue
    const platform = platformOf(dep)
    if (!platform) continue
    const entry = { version, optional: true }
    if (meta.dev) entry.dev = true
    if (platform.os) entry.os = platform.os
    entry.cpu = platform.cpu
    if (platform.libc) entry.libc = platform.libc
    packages[`node_modules/${dep}`] = entry
    added++
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)))
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`lock-platforms: added ${added} optional platform entries`)

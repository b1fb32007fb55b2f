/** Headless Debian Chromium for browser tests, and test pages bundled with Vite. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { build } from 'vite'

/**
 * Debian's Chromium, headless. The background-networking flags matter here: without them Chromium
 * keeps trying to reach hosts a machine without internet cannot reach.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  })
}

/** Bundle `entry` (an absolute path) as one browser script exposing `globalName`; returns its text. */
export async function bundleForBrowser(entry: string, globalName: string): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'tessera-bundle-'))
  try {
    await build({
      logLevel: 'warn',
      configFile: false,
      build: { outDir, emptyOutDir: false, minify: false, lib: { entry, formats: ['iife'], name: globalName, fileName: () => 'bundle.js' } },
    })
    return readFileSync(join(outDir, 'bundle.js'), 'utf8')
  } finally {
    rmSync(outDir, { recursive: true, force: true })
  }
}

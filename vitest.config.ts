import { defineConfig } from 'vitest/config'

// Tests that start geckos.io servers must not share a process (one geckos server per process),
// and integration suites start real etcd members: every file runs in its own forked process.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
    // Two cores: more forks than that only makes timing-sensitive suites flaky.
    maxWorkers: 2,
  },
})

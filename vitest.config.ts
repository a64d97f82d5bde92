import { defineConfig } from 'vitest/config'

// The default project runs on the CPU with no downloads. Checks that need real weights or a GPU
// live in the `gpu` project, which `npm test` does not include.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'default',
          include: [
            'test/unit/**/*.test.ts',
            'test/integration/**/*.test.ts',
            'test/e2e/**/*.test.ts',
          ],
          pool: 'forks',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 600_000,
        },
      },
    ],
  },
})

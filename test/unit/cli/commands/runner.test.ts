import { describe, expect, it } from 'vitest'

import { parseRunnerArgs } from '../../../../cli/commands/runner.ts'

describe('parseRunnerArgs', () => {
  it('applies the documented defaults', () => {
    const options = parseRunnerArgs(['--profile', 'tiny'], {})
    if (options === 'help') throw new Error('expected options')

    expect(options.profile).toBe('tiny')
    expect(options.service).toMatchObject({
      host: '127.0.0.1',
      port: 5000,
      concurrency: 1,
      queueCapacity: 8,
      timeoutMs: 600_000,
      local: false,
      trustedPrefixes: [],
    })
  })

  it('collects prefixes from flags and environment', () => {
    const options = parseRunnerArgs(
      [
        '--profile',
        'gpu',
        '--trusted-prefix',
        'https://a.example.test/',
        '--trusted-prefix',
        'https://b.example.test/',
      ],
      { SEMANI_TRUSTED_PREFIXES: 'https://c.example.test/, https://d.example.test/' }
    )
    if (options === 'help') throw new Error('expected options')

    expect(options.service.trustedPrefixes).toEqual([
      'https://a.example.test/',
      'https://b.example.test/',
      'https://c.example.test/',
      'https://d.example.test/',
    ])
  })

  it('reads the profile from the environment', () => {
    const options = parseRunnerArgs([], { SEMANI_PROFILE: 'cpu' })
    if (options === 'help') throw new Error('expected options')

    expect(options.profile).toBe('cpu')
  })

  it('converts seconds to milliseconds', () => {
    const options = parseRunnerArgs(
      ['--profile', 'tiny', '--timeout-s', '30', '--drain-timeout-s', '0'],
      {}
    )
    if (options === 'help') throw new Error('expected options')

    expect(options.service.timeoutMs).toBe(30_000)
    expect(options.service.drainTimeoutMs).toBe(0)
  })

  it('requires a profile', () => {
    expect(() => parseRunnerArgs([], {})).toThrow('Give --profile tiny, cpu or gpu.')
  })

  it('rejects an unknown profile', () => {
    expect(() => parseRunnerArgs(['--profile', 'huge'], {})).toThrow(
      'Unknown profile "huge"; use one of tiny, cpu, gpu.'
    )
  })

  it('rejects a zero concurrency', () => {
    expect(() => parseRunnerArgs(['--profile', 'tiny', '--concurrency', '0'], {})).toThrow(
      '--concurrency must be an integer >= 1, got "0".'
    )
  })

  it('rejects a port out of range', () => {
    expect(() => parseRunnerArgs(['--profile', 'tiny', '--port', '70000'], {})).toThrow(
      '--port must be an integer from 0 to 65535, got "70000".'
    )
  })

  it('rejects unknown options', () => {
    expect(() => parseRunnerArgs(['--profile', 'tiny', '--gpus', '2'], {})).toThrow(/--gpus/)
  })

  it('returns help for --help', () => {
    expect(parseRunnerArgs(['--help'], {})).toBe('help')
  })
})

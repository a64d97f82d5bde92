/**
 * The `semani` command line. Each command lives in `commands/<name>.ts` and exports
 * `run(argv: string[]): Promise<number>`, returning the exit code; it is imported only when
 * called, so `semani tokenize` does not load ONNX Runtime.
 */
import { commandError } from './output.ts'

const COMMANDS = {
  tokenize: 'Print the CLIP token ids of a text.',
  mask: 'Find the entity a word names and write its mask.',
  edit: 'Edit the entity a word names into what a description says.',
  models: 'List or pull the model files of a profile.',
  runner: 'Start the GPU runner HTTP service.',
  keys: 'Create or revoke API keys in the local database.',
  start: 'Run the local stack (API, playground, runner) until Ctrl-C.',
  demo: 'Edit a sample photo through the local stack and save the images.',
} as const

type CommandName = keyof typeof COMMANDS

interface CommandModule {
  run(argv: string[]): Promise<number>
}

function printUsage(): void {
  const lines = Object.entries(COMMANDS).map(([name, summary]) => `  ${name.padEnd(10)}${summary}`)
  process.stdout.write(
    `Usage: semani <command> [options]\n\nCommands:\n${lines.join('\n')}\n\n` +
      'Run `semani <command> --help` for the options of one command.\n'
  )
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h') {
    printUsage()
    return name === undefined ? 2 : 0
  }
  if (!(name in COMMANDS)) {
    return commandError(`Unknown command "${name}". Run \`semani --help\` for the list.`)
  }

  // Commands print their own results; the runner's JSON log lines only matter for services.
  if (name !== 'runner') process.env.SEMANI_LOG_LEVEL ??= 'warn'

  const command = (await import(`./commands/${name as CommandName}.ts`)) as CommandModule
  return command.run(rest)
}

process.exitCode = await main(process.argv.slice(2))

// Entry point: `openfactor serve | migrate | apps … | keys rotate | outbox | users import`.
// Every command opens the same store from the same environment, so the CLI works whether or not
// a server is running. Help answers before anything heavy is loaded.
import module from 'node:module';
import { readArgs, USAGE } from './cli/usage.ts';

// Node 22.1 and later keep the compiled code on disk: a restart skips most of the compiling.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

async function main(argv: string[]): Promise<number> {
  const args = readArgs(argv);
  const [command] = args.positionals;
  if (args.values.help || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const { runCommand } = await import('./cli/commands.ts');
  return runCommand(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  async (err) => {
    const { explainFailure } = await import('./cli/explain.ts');
    process.stderr.write(`openfactor: ${explainFailure(err)}\n`);
    process.exit(1);
  },
);

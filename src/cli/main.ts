#!/usr/bin/env node
/**
 * The `emotion-kiosk` command: one program, one file per subcommand. Only the module of the command that runs is
 * loaded (src/cli/commands.ts); top-level help and unknown commands are answered from the summaries alone.
 */
import { Command } from 'commander';
import { packageVersion } from '../util/index.js';
import { COMMANDS, commandToLoad, type CommandName } from './commands.js';

async function main(): Promise<void> {
  const program = new Command()
    .name('emotion-kiosk')
    .description('Facial-emotion recognition kiosk: camera -> faces -> Deep_Emotion (ONNX) -> events, MQTT, dashboard')
    .version(packageVersion())
    .showHelpAfterError();

  const wanted = commandToLoad(process.argv.slice(2));
  for (const name of Object.keys(COMMANDS) as CommandName[]) {
    if (name === wanted) (await COMMANDS[name].load())(program);
    // a placeholder: shown in the help and the "did you mean" suggestions; never runs (its name routes to `wanted`)
    else program.command(name).description(COMMANDS[name].summary).allowUnknownOption().allowExcessArguments();
  }
  await program.parseAsync(process.argv);
}

main().catch((err: unknown) => {
  process.stderr.write(`emotion-kiosk: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

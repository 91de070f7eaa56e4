#!/usr/bin/env -S node --max-semi-space-size=2
// The flag above keeps V8's young generation at 2 MiB per semi-space instead of 16: a daemon
// answering many small calls otherwise holds ~25 MiB more RSS for no measurable speed. Run the
// script itself (the systemd unit, npm start and the tests do) so it applies.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCommandLine, usage, type CommandLine } from '../config/flags';
import { loadConfig, renderConfig, type LoadedConfig } from '../config/load';
import { ConfigError } from '../config/validate';
import { Daemon } from '../server/daemon';
import { errorMessage } from '../system/errors';
import { createLogger, type Logger } from '../system/logger';

async function packageVersion(): Promise<string> {
  // dist/bin/ -> project root, where package.json is the one source of the version.
  const text = await readFile(join(__dirname, '..', '..', 'package.json'), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/**
 * Resolves on the first SIGTERM or SIGINT. Installed before the daemon starts, so a signal
 * that arrives during start-up still ends in an orderly stop rather than a sudden exit.
 */
function stopSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        logger.warn('shutdown already under way', { signal });
        return;
      }
      received = signal;
      logger.info('signal received', { signal });
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

export async function main(argv: string[]): Promise<number> {
  process.title = 'podvisord';
  let commandLine: CommandLine;
  let loaded: LoadedConfig;
  try {
    commandLine = parseCommandLine(argv);
    if (commandLine.help) {
      process.stdout.write(usage());
      return 0;
    }
    if (commandLine.version) {
      process.stdout.write(`podvisord ${await packageVersion()}\n`);
      return 0;
    }
    loaded = await loadConfig(commandLine.configPath, commandLine.overrides);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`podvisord: ${error.message}\n`);
    return 2;
  }
  if (commandLine.command === 'config') {
    process.stdout.write(renderConfig(loaded.config));
    return 0;
  }

  const { config } = loaded;
  const logger = createLogger(config.log.level, config.log.format);
  // A fault outside any call is a bug of ours; log it and carry on serving the calls that work.
  process.on('unhandledRejection', (reason) => logger.error('unhandled rejection', { error: errorMessage(reason) }));
  logger.info('config loaded', { file: loaded.file ?? '(none: defaults)' });
  const stopping = stopSignal(logger);
  let daemon: Daemon | undefined;
  process.on('SIGHUP', () => void daemon?.reload());
  try {
    daemon = await Daemon.start({
      config,
      configPath: commandLine.configPath,
      overrides: commandLine.overrides,
      version: await packageVersion(),
      logger,
    });
  } catch (error) {
    logger.error('podvisord cannot start', { socket: config.socket, error: errorMessage(error) });
    return 1;
  }
  await stopping;
  try {
    await daemon.stop();
    return 0;
  } catch (error) {
    logger.error('shutdown failed', { error: errorMessage(error) });
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`podvisord: ${errorMessage(error)}\n`);
      process.exit(1);
    },
  );
}

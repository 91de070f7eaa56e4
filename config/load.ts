import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'smol-toml';
import { DEFAULT_CONFIG_PATH, type Config } from './config';
import { ConfigError, validateConfig, type Table } from './validate';

export interface LoadedConfig {
  config: Config;
  /** The file read, or undefined when the default file does not exist. */
  file: string | undefined;
}

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep-merges flag overrides over the file's tables; arrays and scalars replace. */
function merge(base: Table, over: Table): Table {
  const out: Table = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isTable(current) && isTable(value) ? merge(current, value) : value;
  }
  return out;
}

async function readToml(path: string, required: boolean): Promise<Table | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError('config', `cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return parse(text);
  } catch (error) {
    throw new ConfigError('config', `${path} is not valid TOML: ${(error as Error).message}`);
  }
}

/**
 * Reads the config file (the default one may be absent; a named one may not), applies the
 * command-line overrides, and validates the result.
 */
export async function loadConfig(path: string | undefined, overrides: Table): Promise<LoadedConfig> {
  const file = path ?? DEFAULT_CONFIG_PATH;
  const raw = await readToml(file, path !== undefined);
  try {
    return { config: validateConfig(merge(raw ?? {}, overrides)), file: raw ? file : undefined };
  } catch (error) {
    if (error instanceof ConfigError && raw) throw new ConfigError(error.key, error.problem, file);
    throw error;
  }
}

export function renderConfig(config: Config): string {
  return stringify(config) + '\n';
}

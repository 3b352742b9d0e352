/**
 * forkv's configuration subsystem (pure TypeScript: files only, no sockets, no native calls).
 *
 * Startup:
 *   const cl = parseCommandLine(process.argv.slice(2));
 *   // cl.kind: 'run' | 'version' | 'help' | 'unsupported'
 *   const { store, warnings, configFile } = loadServerConfig({
 *     configFile: cl.configFile, stdinText, options: cl.text, version });
 *   // on ConfigError: process.stderr.write(err.format()); process.exit(1)
 *
 * Runtime: store.get(patterns, glob) / store.set(pairs, ctx) / store.rewrite(configFile),
 * store.onChange(name, hook), typed getters.
 */
export { splitArgs, quoteArg, splitOnSpaces } from './split-args';
export { ConfigError, type ConfigErrorKind } from './errors';
export {
  CONFIG_TABLE, CONFIG_ENTRIES, FORKV_IMPLEMENTED, FORKV_CAVEATS, DEPRECATED_DIRECTIVES,
  FORKV_DEFAULT_BIND, VALKEY_DEFAULT_BIND, lookupConfig, configDef, type ConfigEntry,
} from './schema';
export { keyspaceEventsToFlags, keyspaceFlagsToString } from './codecs';
export {
  ConfigStore, LOADING_ERROR, type ApplyHook, type ConfigSetContext, type ConfigStoreOptions, type LogLevel,
} from './store';
export { parseCommandLine, USAGE, type CommandLine } from './command-line';
export {
  parseConfigText, loadServerConfig, readConfigSource,
  type ConfigWarning, type LoadOptions, type LoadResult, type ParseOptions,
} from './parse';
export { CONFIG_REWRITE_SIGNATURE } from './rewrite';
export type * from './types';

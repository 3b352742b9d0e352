/**
 * Types shared by the configuration modules: how a directive is described (its kind) and what a
 * current value looks like (a tagged union whose tag equals the kind's `type`).
 */

/** The C type behind a numeric directive; it decides signed or unsigned range checks. */
export type NumericType =
  | 'int' | 'uint' | 'long' | 'ulong' | 'llong' | 'ullong' | 'size_t' | 'ssize_t' | 'off_t' | 'time_t';

/** How a numeric directive is written: Valkey's INTEGER, MEMORY, MEMORY|PERCENT and OCTAL. */
export type NumericFormat = 'integer' | 'memory' | 'memory-percent' | 'octal';

export interface SaveRule {
  readonly seconds: number;
  readonly changes: number;
}

export type ClientClass = 'normal' | 'replica' | 'pubsub';

export interface OutputBufferLimit {
  readonly hardLimitBytes: bigint;
  readonly softLimitBytes: bigint;
  readonly softLimitSeconds: number;
}

/** Limits for the three classes, in Valkey's order: normal, replica, pubsub. */
export type OutputBufferLimits = readonly [OutputBufferLimit, OutputBufferLimit, OutputBufferLimit];

export interface ReplicaOf {
  readonly host: string;
  readonly port: number;
}

/** Returns an error text (Valkey's wording where Valkey has one) or null when acceptable. */
export type Validator<T> = (value: T) => string | null;

export interface BoolKind {
  readonly type: 'bool';
  readonly default: boolean;
  readonly validate?: Validator<boolean>;
}

export interface NumericKind {
  readonly type: 'numeric';
  readonly numType: NumericType;
  readonly format: NumericFormat;
  readonly min: bigint;
  readonly max: bigint;
  /** Stored representation: a percentage N% is stored as -N, as in Valkey. */
  readonly default: bigint;
  readonly validate?: Validator<bigint>;
  /** Applied after a successful set (hz is clamped to 1..500 rather than refused). */
  readonly normalize?: (value: bigint) => bigint;
}

export interface EnumKind {
  readonly type: 'enum';
  /** Name to value, in Valkey's order (the order of the error message and of name lookup). */
  readonly values: ReadonlyArray<readonly [string, number]>;
  readonly default: number;
  readonly validate?: Validator<number>;
}

export interface StringKind {
  readonly type: 'string';
  /** null means "unset" (Valkey's EMPTY_STRING_IS_NULL configs with no default). */
  readonly default: string | null;
  /** Setting "" stores null (CONFIG GET still prints ""; CONFIG REWRITE drops the line). */
  readonly emptyIsNull: boolean;
  readonly validate?: Validator<string>;
}

export interface DirKind { readonly type: 'dir' }
export interface SaveKind { readonly type: 'save'; readonly default: readonly SaveRule[] }
export interface BindKind { readonly type: 'bind'; readonly default: readonly string[] }
export interface ObufKind { readonly type: 'obuf'; readonly default: OutputBufferLimits }
export interface OomValuesKind { readonly type: 'oom-values'; readonly default: readonly number[] }
export interface KeyspaceEventsKind { readonly type: 'keyspace-events' }
export interface ReplicaOfKind { readonly type: 'replicaof' }
export interface PercentilesKind { readonly type: 'percentiles'; readonly default: readonly number[] }

export type ConfigKind =
  | BoolKind | NumericKind | EnumKind | StringKind | DirKind | SaveKind | BindKind | ObufKind
  | OomValuesKind | KeyspaceEventsKind | ReplicaOfKind | PercentilesKind;

export type ConfigValue =
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'numeric'; readonly value: bigint }
  | { readonly type: 'enum'; readonly value: number }
  | { readonly type: 'string'; readonly value: string | null }
  | { readonly type: 'dir'; readonly value: string }
  | { readonly type: 'save'; readonly value: readonly SaveRule[] }
  | { readonly type: 'bind'; readonly value: readonly string[] }
  | { readonly type: 'obuf'; readonly value: OutputBufferLimits }
  | { readonly type: 'oom-values'; readonly value: readonly number[] }
  | { readonly type: 'keyspace-events'; readonly value: number }
  | { readonly type: 'replicaof'; readonly value: ReplicaOf | null }
  | { readonly type: 'percentiles'; readonly value: readonly number[] };

/** Valkey's per-config flags (MULTI_ARG, IMMUTABLE, PROTECTED, ...). */
export interface ConfigFlags {
  /** IMMUTABLE_CONFIG: only at startup; CONFIG SET answers "can't set immutable config". */
  readonly immutable: boolean;
  /** PROTECTED_CONFIG: CONFIG SET only when enable-protected-configs allows it. */
  readonly protected: boolean;
  /** DENY_LOADING_CONFIG: CONFIG SET refused with -LOADING while the dataset loads. */
  readonly denyLoading: boolean;
  /** SENSITIVE_CONFIG: the server must redact the CONFIG SET value from logs and MONITOR. */
  readonly sensitive: boolean;
  /** HIDDEN_CONFIG: not matched by CONFIG GET patterns, only by its exact name. */
  readonly hidden: boolean;
  /** MULTI_ARG_CONFIG: takes several arguments (and a single quoted one is re-split). */
  readonly multiArg: boolean;
  /** VOLATILE_CONFIG: setting the same value still counts as a change (apply hooks run). */
  readonly volatile: boolean;
}

export interface ConfigDef {
  readonly name: string;
  readonly alias?: string;
  readonly flags: ConfigFlags;
  readonly kind: ConfigKind;
  /** Whether forkv honours it. Unimplemented ones are accepted, reported, and warned about. */
  readonly implemented: boolean;
  /** For implemented ones with a limitation: warned about when set to a non-default value. */
  readonly caveat?: string;
  /** A directive Valkey does not have. */
  readonly forkvOnly?: boolean;
}

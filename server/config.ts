// Command-line and ETCD_* environment parsing into a validated ServerConfig (spec CLI-1..7).
// Pure: no file system, no network, no process exit; errors are thrown as ConfigError and the
// caller (cli.ts) decides how to report them. Defaults follow etcd 2.x (CLI-3).

/** Log levels accepted by `--log-level` (etcd 3.4's list). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal'
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'panic', 'fatal']

/** One member of `--initial-cluster`: a name and its peer URLs in the order given. */
export interface InitialClusterMember {
  name: string
  peerUrls: string[]
}

/** TLS material for one listener family (client or peer). Paths are not read here. */
export interface TlsConfig {
  certFile: string
  keyFile: string
  trustedCaFile: string
  /** Require a client certificate signed by trustedCaFile. */
  clientCertAuth: boolean
}

/** Where to bind one listener, derived from a listen URL. `localhost` is bound as 127.0.0.1. */
export interface BindAddress {
  /** The URL as given on the command line (normalised: no trailing slash). */
  url: string
  /** IP literal to pass to listen() (IPv6 without brackets). */
  host: string
  port: number
  tls: boolean
}

/**
 * Everything the server needs to start, after defaults, env vars and validation.
 * URL lists are normalised strings (scheme://host:port, no trailing slash), in the order given.
 */
export interface ServerConfig {
  name: string
  dataDir: string
  /** Separate WAL directory; '' means inside dataDir. */
  walDir: string
  /** Committed entries between snapshots (2.x default 10000). */
  snapshotCount: number
  maxSnapshots: number
  maxWals: number
  /** How the WAL writes (--wal-sync, raftkv only): see server/wal/README.md. */
  walSync: 'blocking' | 'async'
  heartbeatIntervalMs: number
  electionTimeoutMs: number

  listenPeerUrls: string[]
  listenClientUrls: string[]
  /** listenPeerUrls resolved to bind addresses. */
  listenPeer: BindAddress[]
  /** listenClientUrls resolved to bind addresses. */
  listenClient: BindAddress[]
  initialAdvertisePeerUrls: string[]
  advertiseClientUrls: string[]

  /** Parsed `--initial-cluster` (defaults to `<name>=<initial advertise peer URLs>`). */
  initialCluster: InitialClusterMember[]
  initialClusterState: 'new' | 'existing'
  initialClusterToken: string
  discovery: string
  discoverySrv: string
  discoveryFallback: 'exit' | 'proxy'
  discoveryProxy: string
  strictReconfigCheck: boolean
  /** Run a pre-vote round before each election (thesis 9.6). raftkv default true; etcd 3.4: false. */
  preVote: boolean
  forceNewCluster: boolean

  /** CORS origins; empty = no CORS headers (2.x default); ['*'] = any origin. */
  cors: string[]
  /** Largest client request body in bytes (keys form, members, auth); default 10 MiB, etcd v2's form limit. */
  maxRequestBytes: number
  clientTls: TlsConfig
  peerTls: TlsConfig

  logLevel: LogLevel
  enablePprof: boolean
  /** Serve the live cluster dashboard at /dashboard on the client listeners (default true). */
  dashboard: boolean
  /** Accepted for etcd 3.4 compatibility; v2 is always on in raftkv. */
  enableV2: boolean

  /** Flags explicitly set by the command line or the environment (flag names, no dashes). */
  explicitFlags: string[]
  /** Non-fatal notices found while parsing (shadowed env vars, ignored flags...); log them at start. */
  warnings: string[]
}

/** A configuration problem. exitCode 2 = usage error (as Go's flag package), 1 = invalid setting. */
export class ConfigError extends Error {
  readonly exitCode: number
  constructor(message: string, exitCode = 1) {
    super(message)
    this.name = 'ConfigError'
    this.exitCode = exitCode
  }
}

type FlagKind = 'string' | 'bool' | 'uint' | 'enum'

/** Help groups, in the order `--help` prints them (etcd's grouping). */
export const FLAG_GROUPS = ['Member', 'Clustering', 'Security', 'Logging', 'Profiling', 'Proxy', 'Unsafe'] as const
export type FlagGroup = (typeof FLAG_GROUPS)[number]

/** One supported flag; the table drives parsing, env lookup and `--help`. */
export interface FlagSpec {
  name: string
  kind: FlagKind
  /** Default as shown in help; '' = none. */
  def: string
  group: FlagGroup
  help: string
  values?: readonly string[]
  /** Accepted for compatibility but has no effect in raftkv; a warning names it when set. */
  ignored?: boolean
}

const f = (
  name: string,
  kind: FlagKind,
  def: string,
  group: FlagGroup,
  help: string,
  extra: Partial<FlagSpec> = {},
): FlagSpec => ({ name, kind, def, group, help, ...extra })

/** Every flag raftkv accepts, with etcd's names. */
export const FLAGS: readonly FlagSpec[] = [
  f('name', 'string', 'default', 'Member', 'Human-readable name for this member.'),
  f('data-dir', 'string', '${name}.etcd', 'Member', 'Path to the data directory.'),
  f('wal-dir', 'string', '', 'Member', 'Path to the dedicated wal directory.'),
  f('snapshot-count', 'uint', '10000', 'Member', 'Number of committed transactions to trigger a snapshot to disk.'),
  f('heartbeat-interval', 'uint', '100', 'Member', 'Time (in milliseconds) of a heartbeat interval.'),
  f('election-timeout', 'uint', '1000', 'Member', 'Time (in milliseconds) for an election to timeout.'),
  f('listen-peer-urls', 'string', 'http://localhost:2380', 'Member', 'List of URLs to listen on for peer traffic.'),
  f('listen-client-urls', 'string', 'http://localhost:2379', 'Member', 'List of URLs to listen on for client traffic.'),
  f('max-snapshots', 'uint', '5', 'Member', 'Maximum number of snapshot files to retain (0 is unlimited).'),
  f('max-wals', 'uint', '5', 'Member', 'Maximum number of wal files to retain (0 is unlimited).'),
  f('max-request-bytes', 'uint', '10485760', 'Member', "Maximum client request body in bytes (keys form, members and auth JSON); a larger keys form gets etcd's 400 'http: POST too large'. Default: etcd v2's form limit (etcd 3.4's 1572864 bounds only v3 gRPC requests)."),
  f('wal-sync', 'enum', 'blocking', 'Member', "How the WAL writes (raftkv only): 'blocking' (write + fdatasync on the event loop thread) or 'async' (on the I/O thread pool).", { values: ['blocking', 'async'] }),
  f('cors', 'string', '', 'Member', "Comma-separated white list of origins for CORS ('*' allows all; empty sends no CORS headers)."),

  f('initial-advertise-peer-urls', 'string', 'http://localhost:2380', 'Clustering', "List of this member's peer URLs to advertise to the rest of the cluster."),
  f('initial-cluster', 'string', 'default=http://localhost:2380', 'Clustering', 'Initial cluster configuration for bootstrapping (name=peerURL,...).'),
  f('initial-cluster-state', 'enum', 'new', 'Clustering', "Initial cluster state ('new' or 'existing').", { values: ['new', 'existing'] }),
  f('initial-cluster-token', 'string', 'etcd-cluster', 'Clustering', 'Initial cluster token for the etcd cluster during bootstrap.'),
  f('advertise-client-urls', 'string', 'http://localhost:2379', 'Clustering', "List of this member's client URLs to advertise to the public."),
  f('discovery', 'string', '', 'Clustering', 'Discovery URL used to bootstrap the cluster.'),
  f('discovery-fallback', 'enum', 'proxy', 'Clustering', "Expected behavior ('exit' or 'proxy') when discovery services fails; raftkv treats 'proxy' as 'exit'.", { values: ['exit', 'proxy'] }),
  f('discovery-proxy', 'string', '', 'Clustering', 'HTTP proxy to use for traffic to discovery service.'),
  f('discovery-srv', 'string', '', 'Clustering', 'DNS srv domain used to bootstrap the cluster.'),
  f('strict-reconfig-check', 'bool', 'true', 'Clustering', 'Reject reconfiguration requests that would cause quorum loss.'),
  f('pre-vote', 'bool', 'true', 'Clustering', "Enable to run an additional Raft election phase, so a member that was cut off does not raise the term and depose a healthy leader on its return (etcd 3.4's default: false)."),
  f('enable-v2', 'bool', 'true', 'Clustering', 'Accepted for etcd 3.4 compatibility; the v2 API is always on.'),

  f('cert-file', 'string', '', 'Security', 'Path to the client server TLS cert file.'),
  f('key-file', 'string', '', 'Security', 'Path to the client server TLS key file.'),
  f('client-cert-auth', 'bool', 'false', 'Security', 'Enable client cert authentication.'),
  f('trusted-ca-file', 'string', '', 'Security', 'Path to the client server TLS trusted CA cert file.'),
  f('ca-file', 'string', '', 'Security', 'DEPRECATED: same as --trusted-ca-file plus --client-cert-auth.'),
  f('peer-cert-file', 'string', '', 'Security', 'Path to the peer server TLS cert file.'),
  f('peer-key-file', 'string', '', 'Security', 'Path to the peer server TLS key file.'),
  f('peer-client-cert-auth', 'bool', 'false', 'Security', 'Enable peer client cert authentication.'),
  f('peer-trusted-ca-file', 'string', '', 'Security', 'Path to the peer server TLS trusted CA file.'),
  f('peer-ca-file', 'string', '', 'Security', 'DEPRECATED: same as --peer-trusted-ca-file plus --peer-client-cert-auth.'),

  f('log-level', 'enum', 'info', 'Logging', 'Configures log level. Only supports debug, info, warn, error, panic, or fatal.', { values: LOG_LEVELS }),
  f('debug', 'bool', 'false', 'Logging', "DEPRECATED: same as '--log-level=debug'."),
  f('log-package-levels', 'string', '', 'Logging', 'DEPRECATED: accepted and ignored.', { ignored: true }),
  f('logger', 'string', '', 'Logging', 'Accepted and ignored (raftkv always logs structured JSON).', { ignored: true }),
  f('log-outputs', 'string', '', 'Logging', 'Accepted and ignored (raftkv logs to stdout).', { ignored: true }),

  f('enable-pprof', 'bool', 'false', 'Profiling', 'Enable runtime profiling data via HTTP server (accepted; no Go profiler here).'),
  f('metrics', 'string', 'basic', 'Profiling', 'Accepted and ignored.', { ignored: true }),
  f('dashboard', 'bool', 'true', 'Profiling', 'Serve the live cluster dashboard at /dashboard on the client port (raftkv only).'),

  f('proxy', 'enum', 'off', 'Proxy', "Proxy mode setting; raftkv supports only 'off'.", { values: ['off', 'readonly', 'on'] }),
  f('proxy-failure-wait', 'uint', '5000', 'Proxy', 'Accepted and ignored.', { ignored: true }),
  f('proxy-refresh-interval', 'uint', '30000', 'Proxy', 'Accepted and ignored.', { ignored: true }),
  f('proxy-dial-timeout', 'uint', '1000', 'Proxy', 'Accepted and ignored.', { ignored: true }),
  f('proxy-write-timeout', 'uint', '5000', 'Proxy', 'Accepted and ignored.', { ignored: true }),
  f('proxy-read-timeout', 'uint', '0', 'Proxy', 'Accepted and ignored.', { ignored: true }),

  f('force-new-cluster', 'bool', 'false', 'Unsafe', 'Force to create a new one-member cluster.'),
]

const FLAG_BY_NAME = new Map(FLAGS.map((s) => [s.name, s]))

/** CLI-6: 2.x address flags, translated to the URL flags (host:port -> http://host:port). */
const LEGACY_ADDRESS_FLAGS: Record<string, string> = {
  addr: 'advertise-client-urls',
  'bind-addr': 'listen-client-urls',
  'peer-addr': 'initial-advertise-peer-urls',
  'peer-bind-addr': 'listen-peer-urls',
}
/** CLI-6: 0.4-era flags that are refused outright. */
const LEGACY_REFUSED = new Set(['peers', 'peers-file'])
/** CLI-6: 0.4-era flags ignored with a warning; the boolean ones take no value. */
const LEGACY_IGNORED_BOOL = new Set(['force', 'snapshot', 'v', 'vv'])
const LEGACY_IGNORED_VALUE = new Set([
  'cluster-active-size',
  'cluster-remove-delay',
  'cluster-sync-interval',
  'config',
  'max-result-buffer',
  'max-retry-attempts',
  'peer-heartbeat-interval',
  'peer-election-timeout',
  'retry-interval',
])

/** Env var for a flag name, CLI-2: `initial-cluster` -> `ETCD_INITIAL_CLUSTER`. */
export function envName(flag: string): string {
  return 'ETCD_' + flag.toUpperCase().replace(/-/g, '_')
}

/** True when argv asks for help (`-h`, `-help`, `--help`), which Go's flag package handles anywhere. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false
    if (a === '-h' || a === '--h' || a === '-help' || a === '--help') return true
  }
  return false
}

/** True when argv asks for the version (`--version`, `-version`, `--version=true`). */
export function wantsVersion(argv: readonly string[]): boolean {
  let want = false
  for (const a of argv) {
    if (a === '--') break
    const m = /^--?version(?:=(.*))?$/.exec(a)
    if (m) want = m[1] === undefined ? true : parseBool(m[1]) === true
  }
  return want
}

/** Go's strconv.ParseBool; undefined when not a boolean. */
function parseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false
  return undefined
}

type RawValue = string | boolean

/**
 * Tokenise argv with Go flag rules (CLI-1). Returns the raw values in order of appearance (later
 * wins). Throws ConfigError(exitCode 2) on syntax errors, unknown flags and positional arguments.
 */
function tokenise(argv: readonly string[], warnings: string[]): Map<string, RawValue> {
  const out = new Map<string, RawValue>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') {
      if (i + 1 < argv.length) throw new ConfigError(`'${argv[i + 1]}' is not a valid flag`, 2)
      break
    }
    if (!arg.startsWith('-') || arg === '-') throw new ConfigError(`'${arg}' is not a valid flag`, 2)
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1)
    if (body === '' || body.startsWith('-') || body.startsWith('=')) throw new ConfigError(`bad flag syntax: ${arg}`, 2)
    const eq = body.indexOf('=')
    const name = eq < 0 ? body : body.slice(0, eq)
    let value: string | undefined = eq < 0 ? undefined : body.slice(eq + 1)
    if (name === 'version' || name === 'h' || name === 'help') continue // handled by the caller

    if (LEGACY_REFUSED.has(name)) throw new ConfigError(`flag "-${name}" is no longer supported.`, 2)
    if (LEGACY_IGNORED_BOOL.has(name)) {
      warnings.push(`flag "-${name}" is no longer supported; ignored`)
      continue
    }
    const spec = FLAG_BY_NAME.get(name)
    const legacyTarget = LEGACY_ADDRESS_FLAGS[name]
    if (!spec && !legacyTarget && !LEGACY_IGNORED_VALUE.has(name)) {
      throw new ConfigError(`flag provided but not defined: -${name}`, 2)
    }
    if (spec?.kind === 'bool') {
      if (value === undefined) {
        out.set(name, true)
      } else {
        const b = parseBool(value)
        if (b === undefined) throw new ConfigError(`invalid boolean value "${value}" for -${name}: parse error`, 2)
        out.set(name, b)
      }
      continue
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new ConfigError(`flag needs an argument: -${name}`, 2)
      value = argv[++i]!
    }
    if (LEGACY_IGNORED_VALUE.has(name)) {
      warnings.push(`flag "-${name}" is no longer supported; ignored`)
      continue
    }
    if (legacyTarget) {
      warnings.push(`flag "-${name}" is deprecated; use "--${legacyTarget}" (treated as --${legacyTarget}=http://${value})`)
      out.set(legacyTarget, addressToUrl(name, value))
      continue
    }
    out.set(name, value)
  }
  return out
}

/** CLI-6: `-addr 10.0.0.1:4001` means `http://10.0.0.1:4001`. */
function addressToUrl(flag: string, value: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[^:/\s]+):\d+$/.test(value)) {
    throw new ConfigError(`invalid value "${value}" for flag -${flag}: expected host:port`, 2)
  }
  return `http://${value}`
}

/** Parse and check a comma-separated URL list (etcd types.NewURLs rules). */
function parseUrls(flag: string, raw: string): string[] {
  const parts = raw.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (parts.length === 0) throw new ConfigError(`--${flag} must not be empty`)
  return parts.map((p) => normaliseUrl(flag, p))
}

function normaliseUrl(flag: string, s: string): string {
  let u: URL
  try {
    u = new URL(s)
  } catch {
    throw new ConfigError(`--${flag}: invalid URL "${s}"`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(`--${flag}: URL scheme must be http or https: ${s}`)
  }
  // Go's URL keeps the port even when it is the scheme's default; WHATWG URL drops it, so read it from the text.
  const port = u.port !== '' ? u.port : explicitPort(s)
  if (port === '' || u.hostname === '') {
    throw new ConfigError(`--${flag}: URL address does not have the form "host:port": ${s}`)
  }
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') {
    throw new ConfigError(`--${flag}: URL must not contain a path: ${s}`)
  }
  if (u.username !== '' || u.password !== '') throw new ConfigError(`--${flag}: URL must not contain credentials: ${s}`)
  return `${u.protocol}//${u.hostname}:${port}`
}

function explicitPort(s: string): string {
  const m = /^[a-z]+:\/\/(?:\[[^\]]*\]|[^/:]*):(\d+)/i.exec(s)
  return m ? m[1]! : ''
}

/** Resolve a listen URL to a bind address; listen URLs must be IPs or `localhost` (bound as 127.0.0.1). */
export function bindAddress(url: string, flag = 'listen-client-urls'): BindAddress {
  const u = new URL(url)
  const host = u.hostname.replace(/^\[|\]$/g, '')
  const port = Number(u.port !== '' ? u.port : explicitPort(url))
  const isIp = /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':')
  if (host !== 'localhost' && !isIp) {
    throw new ConfigError(`--${flag}: expected IP in URL for binding (${url})`)
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--${flag}: invalid port in ${url}`)
  return { url, host: host === 'localhost' ? '127.0.0.1' : host, port, tls: u.protocol === 'https:' }
}

/** Parse `name=url,name=url2,...` (CLI-3). A name may repeat to give several URLs. */
export function parseInitialCluster(raw: string): InitialClusterMember[] {
  const members: InitialClusterMember[] = []
  for (const part of raw.split(',')) {
    const item = part.trim()
    if (item === '') continue
    const eq = item.indexOf('=')
    if (eq <= 0) throw new ConfigError(`--initial-cluster: "${item}" is not of the form name=peerURL`)
    const name = item.slice(0, eq)
    const url = normaliseUrl('initial-cluster', item.slice(eq + 1))
    let m = members.find((x) => x.name === name)
    if (!m) members.push((m = { name, peerUrls: [] }))
    if (m.peerUrls.includes(url)) throw new ConfigError(`--initial-cluster: duplicate URL ${url} for ${name}`)
    m.peerUrls.push(url)
  }
  if (members.length === 0) throw new ConfigError('--initial-cluster must not be empty')
  const seen = new Map<string, string>()
  for (const m of members) {
    for (const u of m.peerUrls) {
      const other = seen.get(u)
      if (other !== undefined) throw new ConfigError(`--initial-cluster: peer URL ${u} is used by both ${other} and ${m.name}`)
      seen.set(u, m.name)
    }
  }
  return members
}

/** Render an initial cluster back to the `name=url,...` form (for logs and discovery). */
export function formatInitialCluster(members: readonly InitialClusterMember[]): string {
  return members.flatMap((m) => m.peerUrls.map((u) => `${m.name}=${u}`)).join(',')
}

/**
 * Parse etcd-style flags and ETCD_* variables into a validated ServerConfig.
 * argv excludes the node binary and script (process.argv.slice(2)). `-h/--help` and `--version`
 * are skipped here; check them first with wantsHelp/wantsVersion.
 * Precedence (CLI-2, 2.x behaviour): flag > env var > default; a shadowed env var adds a warning.
 * Throws ConfigError (exitCode 2 for usage errors, 1 for invalid settings, CLI-4/CLI-7).
 */
export function parseArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ServerConfig {
  const warnings: string[] = []
  const fromFlags = tokenise(argv, warnings)

  // Environment: every flag has ETCD_<NAME>; empty counts as unset (CLI-2).
  const raw = new Map<string, RawValue>()
  const known = new Set(FLAGS.map((s) => envName(s.name)))
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('ETCD_') || value === undefined || value === '') continue
    if (!known.has(key)) {
      warnings.push(`unrecognized environment variable ${key}=${value}`)
      continue
    }
    const spec = FLAGS.find((s) => envName(s.name) === key)!
    if (fromFlags.has(spec.name)) {
      warnings.push(`recognized environment variable ${key}, but unused: shadowed by corresponding flag`)
      continue
    }
    if (spec.kind === 'bool') {
      const b = parseBool(value)
      if (b === undefined) throw new ConfigError(`invalid value "${value}" for ${key}: parse error`, 2)
      raw.set(spec.name, b)
    } else {
      raw.set(spec.name, value)
    }
  }
  for (const [k, v] of fromFlags) raw.set(k, v)

  for (const name of raw.keys()) {
    const spec = FLAG_BY_NAME.get(name)
    if (spec?.ignored) warnings.push(`--${name} is accepted for compatibility and ignored`)
  }

  const isSet = (name: string): boolean => raw.has(name)
  const str = (name: string): string => {
    const v = raw.get(name)
    if (v === undefined) return FLAG_BY_NAME.get(name)!.def
    return String(v)
  }
  const bool = (name: string): boolean => {
    const v = raw.get(name)
    if (v === undefined) return FLAG_BY_NAME.get(name)!.def === 'true'
    return v === true
  }
  const uint = (name: string): number => {
    const s = str(name)
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
      throw new ConfigError(`invalid value "${s}" for flag -${name}: parse error`, 2)
    }
    return Number(s)
  }
  const oneOf = <T extends string>(name: string): T => {
    const s = str(name)
    const values = FLAG_BY_NAME.get(name)!.values!
    if (!values.includes(s)) {
      throw new ConfigError(`invalid value "${s}" for flag -${name}: valid values are ${values.map((v) => `"${v}"`).join(', ')}`, 2)
    }
    return s as T
  }
  for (const s of FLAGS) if (s.kind === 'uint' && isSet(s.name)) uint(s.name) // report bad ignored numbers too

  const name = str('name')
  const heartbeatIntervalMs = uint('heartbeat-interval')
  const electionTimeoutMs = uint('election-timeout')
  // CLI-4, etcd's own wording.
  if (heartbeatIntervalMs === 0) throw new ConfigError('--heartbeat-interval must be greater than 0')
  if (5 * heartbeatIntervalMs > electionTimeoutMs) {
    throw new ConfigError(
      `--election-timeout[${electionTimeoutMs}ms] should be at least as 5 times as --heartbeat-interval[${heartbeatIntervalMs}ms]`,
    )
  }
  if (electionTimeoutMs > 50000) {
    throw new ConfigError(`--election-timeout[${electionTimeoutMs}ms] is too long, and should be set less than 50000ms`)
  }

  const listenPeerUrls = parseUrls('listen-peer-urls', str('listen-peer-urls'))
  const listenClientUrls = parseUrls('listen-client-urls', str('listen-client-urls'))
  const initialAdvertisePeerUrls = parseUrls('initial-advertise-peer-urls', str('initial-advertise-peer-urls'))
  const advertiseClientUrls = parseUrls('advertise-client-urls', str('advertise-client-urls'))
  if (isSet('listen-client-urls') && !isSet('advertise-client-urls')) {
    throw new ConfigError('--advertise-client-urls is required when --listen-client-urls is set explicitly')
  }
  const listenPeer = listenPeerUrls.map((u) => bindAddress(u, 'listen-peer-urls'))
  const listenClient = listenClientUrls.map((u) => bindAddress(u, 'listen-client-urls'))

  const bootstrapFlags = ['initial-cluster', 'discovery', 'discovery-srv'].filter(isSet)
  if (bootstrapFlags.length > 1) {
    throw new ConfigError(
      'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"',
    )
  }
  const initialCluster = isSet('initial-cluster')
    ? parseInitialCluster(str('initial-cluster'))
    : [{ name, peerUrls: [...initialAdvertisePeerUrls] }]
  const discovery = str('discovery')
  if (discovery !== '') normaliseDiscoveryUrl(discovery)

  const proxy = oneOf<'off' | 'readonly' | 'on'>('proxy')
  if (proxy !== 'off') throw new ConfigError(`--proxy=${proxy}: proxy mode is not supported by raftkv`)

  // Deprecated 2.x CA aliases (CLI-3): --ca-file = --trusted-ca-file + --client-cert-auth.
  const clientTls: TlsConfig = {
    certFile: str('cert-file'),
    keyFile: str('key-file'),
    trustedCaFile: str('trusted-ca-file'),
    clientCertAuth: bool('client-cert-auth'),
  }
  if (str('ca-file') !== '') {
    warnings.push('--ca-file is deprecated; use --trusted-ca-file and --client-cert-auth')
    if (clientTls.trustedCaFile === '') clientTls.trustedCaFile = str('ca-file')
    clientTls.clientCertAuth = true
  }
  const peerTls: TlsConfig = {
    certFile: str('peer-cert-file'),
    keyFile: str('peer-key-file'),
    trustedCaFile: str('peer-trusted-ca-file'),
    clientCertAuth: bool('peer-client-cert-auth'),
  }
  if (str('peer-ca-file') !== '') {
    warnings.push('--peer-ca-file is deprecated; use --peer-trusted-ca-file and --peer-client-cert-auth')
    if (peerTls.trustedCaFile === '') peerTls.trustedCaFile = str('peer-ca-file')
    peerTls.clientCertAuth = true
  }
  checkTls('client', clientTls, listenClientUrls, '--cert-file', '--key-file', '--trusted-ca-file', '--client-cert-auth', warnings)
  checkTls('peer', peerTls, listenPeerUrls, '--peer-cert-file', '--peer-key-file', '--peer-trusted-ca-file', '--peer-client-cert-auth', warnings)

  let logLevel = oneOf<LogLevel>('log-level')
  if (bool('debug')) {
    warnings.push("--debug is deprecated; use '--log-level=debug'")
    if (!isSet('log-level')) logLevel = 'debug'
  }
  if (isSet('enable-pprof') && bool('enable-pprof')) warnings.push('--enable-pprof has no effect in raftkv (no Go profiler)')

  const dataDir = isSet('data-dir') ? str('data-dir') : `${name}.etcd`
  if (dataDir === '') throw new ConfigError('--data-dir must not be empty')
  if (name === '') throw new ConfigError('--name must not be empty')

  return {
    name,
    dataDir,
    walDir: str('wal-dir'),
    snapshotCount: uint('snapshot-count'),
    maxSnapshots: uint('max-snapshots'),
    maxWals: uint('max-wals'),
    walSync: oneOf<'blocking' | 'async'>('wal-sync'),
    heartbeatIntervalMs,
    electionTimeoutMs,
    listenPeerUrls,
    listenClientUrls,
    listenPeer,
    listenClient,
    initialAdvertisePeerUrls,
    advertiseClientUrls,
    initialCluster,
    initialClusterState: oneOf<'new' | 'existing'>('initial-cluster-state'),
    initialClusterToken: str('initial-cluster-token'),
    discovery,
    discoverySrv: str('discovery-srv'),
    discoveryFallback: oneOf<'exit' | 'proxy'>('discovery-fallback'),
    discoveryProxy: str('discovery-proxy'),
    strictReconfigCheck: bool('strict-reconfig-check'),
    preVote: bool('pre-vote'),
    forceNewCluster: bool('force-new-cluster'),
    cors: str('cors').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    maxRequestBytes: uint('max-request-bytes'),
    clientTls,
    peerTls,
    logLevel,
    enablePprof: bool('enable-pprof'),
    dashboard: bool('dashboard'),
    enableV2: bool('enable-v2'),
    explicitFlags: [...raw.keys()],
    warnings,
  }
}

function normaliseDiscoveryUrl(s: string): void {
  try {
    const u = new URL(s)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme')
  } catch {
    throw new ConfigError(`--discovery: invalid URL "${s}"`)
  }
}

/** CLI-7: https listeners need cert + key; TLS flags with only http listeners are ignored with a warning. */
function checkTls(
  kind: 'client' | 'peer',
  tls: TlsConfig,
  listenUrls: string[],
  certFlag: string,
  keyFlag: string,
  caFlag: string,
  authFlag: string,
  warnings: string[],
): void {
  const https = listenUrls.filter((u) => u.startsWith('https:'))
  if (https.length > 0 && (tls.certFile === '' || tls.keyFile === '')) {
    throw new ConfigError(`${kind} URL ${https[0]} uses https but ${certFlag} and ${keyFlag} are not both set`)
  }
  if (tls.clientCertAuth && https.length > 0 && tls.trustedCaFile === '') {
    throw new ConfigError(`${authFlag} requires ${caFlag}`)
  }
  if (https.length === 0 && (tls.certFile !== '' || tls.keyFile !== '' || tls.trustedCaFile !== '' || tls.clientCertAuth)) {
    warnings.push(`${kind} TLS flags are ignored: no https:// ${kind === 'client' ? '--listen-client-urls' : '--listen-peer-urls'}`)
  }
}

/**
 * Bootstrap-time checks (CLI-5: only when the data dir is empty and the cluster is new, not
 * discovery): this member's name must be in --initial-cluster with exactly the advertised peer URLs.
 * Throws ConfigError.
 */
export function checkBootstrap(config: ServerConfig): void {
  if (config.discovery !== '' || config.discoverySrv !== '') return
  const me = config.initialCluster.find((m) => m.name === config.name)
  if (!me) {
    throw new ConfigError(`couldn't find local name "${config.name}" in the initial cluster configuration`)
  }
  const want = [...me.peerUrls].sort().join(',')
  const have = [...config.initialAdvertisePeerUrls].sort().join(',')
  if (want !== have) {
    throw new ConfigError(
      `--initial-cluster has ${config.name}=${me.peerUrls.join(',')} but missing from --initial-advertise-peer-urls=${config.initialAdvertisePeerUrls.join(',')}`,
    )
  }
}

/** The `--help` text: usage, flags grouped as etcd groups them, and the env var note (CLI-2). */
export function helpText(): string {
  const lines = [
    'Usage:',
    '',
    '  raftkv [flags]',
    '    Start a raftkv server (etcd v2 API on Raft).',
    '',
    '  raftkv --version',
    '    Show the version of raftkv.',
    '',
    '  raftkv -h | --help',
    '    Show the help information about raftkv.',
    '',
    'Flags use Go syntax: -name value, -name=value, --name value and --name=value are equivalent;',
    'booleans may be given bare (--client-cert-auth) or as --flag=true/false. Time values are in',
    'milliseconds, URL lists are comma-separated.',
  ]
  for (const group of FLAG_GROUPS) {
    lines.push('', `${group}:`)
    for (const s of FLAGS.filter((x) => x.group === group)) {
      lines.push(`  --${s.name} '${s.def}'`, `    ${s.help}`)
    }
  }
  lines.push(
    '',
    'Environment:',
    '  Every flag can also be set with an environment variable: --some-flag is ETCD_SOME_FLAG',
    '  (upper case, dashes become underscores), e.g. ETCD_INITIAL_CLUSTER. An empty variable counts',
    '  as unset. When both are given the command-line flag wins and a notice is logged.',
    '',
  )
  return lines.join('\n')
}

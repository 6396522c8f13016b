// parseArgs: the etcd command lines and ETCD_* variables users already have must mean the same
// thing here (CLI-1..7), and bad settings must fail before anything starts.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { checkBootstrap, ConfigError, envName, FLAGS, helpText, parseArgs, wantsHelp, wantsVersion, type ServerConfig } from '../../server/config.js'

const SEED =
  '-name etcd1 -advertise-client-urls http://127.0.0.1:2379 -listen-client-urls http://127.0.0.1:2379 -initial-advertise-peer-urls http://127.0.0.1:2380 -listen-peer-urls http://127.0.0.1:2380 -initial-cluster-token etcd-cluster-1 -initial-cluster etcd1=http://127.0.0.1:2380,etcd2=http://127.0.0.1:2381,etcd3=http://127.0.0.1:2382 -initial-cluster-state new'

const p = (line: string, env: Record<string, string> = {}): ServerConfig => parseArgs(line === '' ? [] : line.split(' '), env)

function fails(line: string | string[], pattern: RegExp, exitCode: number, env: Record<string, string> = {}): void {
  const argv = Array.isArray(line) ? line : line.split(' ')
  try {
    parseArgs(argv, env)
  } catch (e) {
    assert.instance(e, ConfigError)
    assert.match((e as Error).message, pattern)
    assert.is((e as ConfigError).exitCode, exitCode, `exit code for ${argv.join(' ')}`)
    assert.not.match((e as Error).message, /\n/, 'one-line message')
    return
  }
  assert.unreachable(`expected failure for ${argv.join(' ')}`)
}

const defaults = suite('config: defaults')

defaults('no flags: etcd 2.x defaults, 2379/2380 bound on 127.0.0.1', () => {
  const c = p('')
  assert.is(c.name, 'default')
  assert.is(c.dataDir, 'default.etcd')
  assert.is(c.walDir, '')
  assert.is(c.snapshotCount, 10000)
  assert.is(c.heartbeatIntervalMs, 100)
  assert.is(c.electionTimeoutMs, 1000)
  assert.equal(c.listenClientUrls, ['http://localhost:2379'])
  assert.equal(c.listenPeerUrls, ['http://localhost:2380'])
  assert.equal(c.advertiseClientUrls, ['http://localhost:2379'])
  assert.equal(c.initialAdvertisePeerUrls, ['http://localhost:2380'])
  assert.equal(c.listenClient, [{ url: 'http://localhost:2379', host: '127.0.0.1', port: 2379, tls: false }])
  assert.equal(c.listenPeer, [{ url: 'http://localhost:2380', host: '127.0.0.1', port: 2380, tls: false }])
  assert.equal(c.initialCluster, [{ name: 'default', peerUrls: ['http://localhost:2380'] }])
  assert.is(c.initialClusterState, 'new')
  assert.is(c.initialClusterToken, 'etcd-cluster')
  assert.is(c.strictReconfigCheck, true)
  assert.equal(c.cors, [])
  assert.is(c.maxRequestBytes, 10 * 1024 * 1024)
  assert.is(c.preVote, true)
  assert.is(c.walSync, 'blocking')
  assert.is(c.maxSnapshots, 5)
  assert.is(c.maxWals, 5)
  assert.is(c.logLevel, 'info')
  assert.is(c.discoveryFallback, 'proxy')
  assert.is(c.enableV2, true)
  assert.is(c.forceNewCluster, false)
  assert.equal(c.warnings, [])
  assert.equal(c.explicitFlags, [])
})

defaults('--name changes data dir and the default initial cluster', () => {
  const c = p('--name infra0')
  assert.is(c.dataDir, 'infra0.etcd')
  assert.equal(c.initialCluster, [{ name: 'infra0', peerUrls: ['http://localhost:2380'] }])
  checkBootstrap(c)
})

defaults.run()

const syntax = suite('config: Go flag syntax (CLI-1)')

for (const argv of [['-name', 'x'], ['-name=x'], ['--name', 'x'], ['--name=x']]) {
  syntax(`${argv.join(' ')}`, () => assert.is(parseArgs(argv, {}).name, 'x'))
}

syntax('booleans: bare, =true/=false, Go spellings', () => {
  assert.is(p('--client-cert-auth').clientTls.clientCertAuth, true)
  assert.is(p('-client-cert-auth=false').clientTls.clientCertAuth, false)
  assert.is(p('--strict-reconfig-check=false').strictReconfigCheck, false)
  assert.is(p('--force-new-cluster=T').forceNewCluster, true)
  assert.is(p('--force-new-cluster=0').forceNewCluster, false)
  fails('--force-new-cluster=yes', /invalid boolean value "yes" for -force-new-cluster/, 2)
})

syntax('a boolean does not take the next argument: it becomes a positional arg (error)', () => {
  fails('--client-cert-auth false', /'false' is not a valid flag/, 2)
})

syntax('value flags take the next argument even when it starts with a dash; later repeats win', () => {
  assert.is(parseArgs(['--name', '-odd-'], {}).name, '-odd-')
  assert.is(p('--name a --name b').name, 'b')
  fails(['--name='], /--name must not be empty/, 1)
})

syntax('usage errors exit 2', () => {
  fails('--no-such-flag', /flag provided but not defined: -no-such-flag/, 2)
  fails('extra', /'extra' is not a valid flag/, 2)
  fails('--name', /flag needs an argument: -name/, 2)
  fails('---name=x', /bad flag syntax/, 2)
  fails('--heartbeat-interval abc', /invalid value "abc" for flag -heartbeat-interval/, 2)
  fails('--snapshot-count -5', /invalid value "-5" for flag -snapshot-count/, 2)
  fails(['--', 'x'], /'x' is not a valid flag/, 2)
})

syntax('help and version are recognised anywhere before --', () => {
  assert.ok(wantsHelp(['--name', 'x', '-h']))
  assert.ok(wantsHelp(['--help']))
  assert.ok(wantsHelp(['-help']))
  assert.not.ok(wantsHelp(['--name', 'x']))
  assert.ok(wantsVersion(['--version']))
  assert.ok(wantsVersion(['-version']))
  assert.not.ok(wantsVersion(['--version=false']))
  assert.is(p('--version').name, 'default', 'parseArgs ignores --version')
})

syntax.run()

const flags = suite('config: every flag')

const table: [string, (c: ServerConfig) => unknown, unknown][] = [
  ['--data-dir /var/lib/x', (c) => c.dataDir, '/var/lib/x'],
  ['--wal-dir /wal', (c) => c.walDir, '/wal'],
  ['--snapshot-count 5000', (c) => c.snapshotCount, 5000],
  ['--heartbeat-interval 200 --election-timeout 2000', (c) => [c.heartbeatIntervalMs, c.electionTimeoutMs], [200, 2000]],
  ['--max-snapshots 0', (c) => c.maxSnapshots, 0],
  ['--max-wals 9', (c) => c.maxWals, 9],
  ['--max-request-bytes 1572864', (c) => c.maxRequestBytes, 1572864],
  ['--wal-sync async', (c) => c.walSync, 'async'],
  ['--wal-sync=blocking', (c) => c.walSync, 'blocking'],
  ['--cors *', (c) => c.cors, ['*']],
  ['--cors http://a.example,http://b.example', (c) => c.cors, ['http://a.example', 'http://b.example']],
  ['--listen-peer-urls http://10.0.0.1:2380,http://[::1]:2390', (c) => c.listenPeer.map((a) => [a.host, a.port]), [['10.0.0.1', 2380], ['::1', 2390]]],
  ['--listen-client-urls http://0.0.0.0:2379 --advertise-client-urls http://node1:2379', (c) => [c.listenClient[0]!.host, c.advertiseClientUrls], ['0.0.0.0', ['http://node1:2379']]],
  ['--initial-advertise-peer-urls http://10.0.0.1:2380 --initial-cluster default=http://10.0.0.1:2380', (c) => c.initialAdvertisePeerUrls, ['http://10.0.0.1:2380']],
  ['--initial-cluster a=http://1.1.1.1:2380,a=http://2.2.2.2:2380,b=http://3.3.3.3:2380', (c) => c.initialCluster, [{ name: 'a', peerUrls: ['http://1.1.1.1:2380', 'http://2.2.2.2:2380'] }, { name: 'b', peerUrls: ['http://3.3.3.3:2380'] }]],
  ['--initial-cluster-state existing', (c) => c.initialClusterState, 'existing'],
  ['--initial-cluster-token tok', (c) => c.initialClusterToken, 'tok'],
  ['--discovery https://discovery.etcd.io/abc', (c) => c.discovery, 'https://discovery.etcd.io/abc'],
  ['--discovery-srv example.com', (c) => c.discoverySrv, 'example.com'],
  ['--discovery-fallback exit', (c) => c.discoveryFallback, 'exit'],
  ['--discovery-proxy http://proxy:8080', (c) => c.discoveryProxy, 'http://proxy:8080'],
  ['--strict-reconfig-check=false', (c) => c.strictReconfigCheck, false],
  ['--pre-vote', (c) => c.preVote, true],
  ['--pre-vote=false', (c) => c.preVote, false],
  ['--enable-v2', (c) => c.enableV2, true],
  ['--enable-v2=false', (c) => c.enableV2, false],
  ['--cert-file c.pem --key-file k.pem --trusted-ca-file ca.pem --client-cert-auth', (c) => c.clientTls, { certFile: 'c.pem', keyFile: 'k.pem', trustedCaFile: 'ca.pem', clientCertAuth: true }],
  ['--peer-cert-file c.pem --peer-key-file k.pem --peer-trusted-ca-file ca.pem --peer-client-cert-auth', (c) => c.peerTls, { certFile: 'c.pem', keyFile: 'k.pem', trustedCaFile: 'ca.pem', clientCertAuth: true }],
  ['--ca-file ca.pem', (c) => [c.clientTls.trustedCaFile, c.clientTls.clientCertAuth], ['ca.pem', true]],
  ['--peer-ca-file ca.pem', (c) => [c.peerTls.trustedCaFile, c.peerTls.clientCertAuth], ['ca.pem', true]],
  ['--log-level warn', (c) => c.logLevel, 'warn'],
  ['--debug', (c) => c.logLevel, 'debug'],
  ['--debug --log-level error', (c) => c.logLevel, 'error'],
  ['--enable-pprof', (c) => c.enablePprof, true],
  ['--force-new-cluster', (c) => c.forceNewCluster, true],
  ['--proxy off --proxy-failure-wait 10 --proxy-refresh-interval 1 --proxy-dial-timeout 1 --proxy-write-timeout 1 --proxy-read-timeout 0', (c) => c.warnings.length, 5],
  ['--log-package-levels etcdserver=DEBUG --logger zap --log-outputs stderr --metrics extensive', (c) => c.warnings.length, 4],
]
for (const [line, get, want] of table) flags(line, () => assert.equal(get(p(line)), want))

flags('every flag in the table can be given (no flag is defined but unparseable)', () => {
  for (const s of FLAGS) {
    const v = s.kind === 'bool' ? `--${s.name}` : `--${s.name}=${s.values ? s.values[0] : s.kind === 'uint' ? '7000' : 'v'}`
    const extra = s.name === 'listen-client-urls' ? ['--advertise-client-urls=http://127.0.0.1:2379'] : []
    const needsUrl = ['listen-peer-urls', 'listen-client-urls', 'initial-advertise-peer-urls', 'advertise-client-urls', 'discovery', 'discovery-proxy']
    const arg = needsUrl.includes(s.name) ? `--${s.name}=http://127.0.0.1:2379` : s.name === 'initial-cluster' ? '--initial-cluster=x=http://127.0.0.1:2380' : v
    const argv = s.name === 'heartbeat-interval' ? ['--heartbeat-interval=100'] : s.name === 'election-timeout' ? ['--election-timeout=7000'] : [arg, ...extra]
    try {
      parseArgs(argv, {})
    } catch (e) {
      assert.unreachable(`${argv.join(' ')}: ${(e as Error).message}`)
    }
  }
})

flags('help lists every flag under etcd-like groups and explains ETCD_* variables', () => {
  const h = helpText()
  for (const s of FLAGS) assert.ok(h.includes(`--${s.name} '`), s.name)
  for (const g of ['Member:', 'Clustering:', 'Security:', 'Logging:']) assert.ok(h.includes(g), g)
  assert.match(h, /ETCD_SOME_FLAG/)
})

flags('the seed command line parses', () => {
  const c = p(SEED)
  assert.is(c.name, 'etcd1')
  assert.is(c.dataDir, 'etcd1.etcd')
  assert.equal(c.advertiseClientUrls, ['http://127.0.0.1:2379'])
  assert.equal(c.listenClient, [{ url: 'http://127.0.0.1:2379', host: '127.0.0.1', port: 2379, tls: false }])
  assert.equal(c.initialAdvertisePeerUrls, ['http://127.0.0.1:2380'])
  assert.equal(c.listenPeerUrls, ['http://127.0.0.1:2380'])
  assert.is(c.initialClusterToken, 'etcd-cluster-1')
  assert.equal(c.initialCluster.map((m) => [m.name, m.peerUrls]), [
    ['etcd1', ['http://127.0.0.1:2380']],
    ['etcd2', ['http://127.0.0.1:2381']],
    ['etcd3', ['http://127.0.0.1:2382']],
  ])
  assert.is(c.initialClusterState, 'new')
  assert.equal(c.warnings, [])
  checkBootstrap(c)
})

flags.run()

const env = suite('config: ETCD_* environment (CLI-2)')

env('every flag has an ETCD_ variable', () => {
  assert.is(envName('initial-cluster-token'), 'ETCD_INITIAL_CLUSTER_TOKEN')
  const c = parseArgs([], {
    ETCD_NAME: 'e1',
    ETCD_DATA_DIR: '/d',
    ETCD_INITIAL_CLUSTER: 'e1=http://10.0.0.1:2380',
    ETCD_INITIAL_ADVERTISE_PEER_URLS: 'http://10.0.0.1:2380',
    ETCD_HEARTBEAT_INTERVAL: '50',
    ETCD_ELECTION_TIMEOUT: '500',
    ETCD_CLIENT_CERT_AUTH: 'true',
    ETCD_CORS: '*',
    ETCD_LOG_LEVEL: 'debug',
  })
  assert.is(c.name, 'e1')
  assert.is(c.dataDir, '/d')
  assert.is(c.heartbeatIntervalMs, 50)
  assert.is(c.electionTimeoutMs, 500)
  assert.is(c.clientTls.clientCertAuth, true)
  assert.equal(c.cors, ['*'])
  assert.is(c.logLevel, 'debug')
  checkBootstrap(c)
  assert.ok(c.explicitFlags.includes('initial-cluster'))
})

env('flag wins over its variable (2.x behaviour) and a notice is recorded', () => {
  const c = p('--name flag', { ETCD_NAME: 'env' })
  assert.is(c.name, 'flag')
  assert.equal(c.warnings, ['recognized environment variable ETCD_NAME, but unused: shadowed by corresponding flag'])
})

env('empty variables are unset; unknown ETCD_ variables are warnings; other variables ignored', () => {
  const c = p('', { ETCD_NAME: '', ETCD_FOO: 'bar', ETCDCTL_API: '2', HOME: '/root' })
  assert.is(c.name, 'default')
  assert.equal(c.warnings, ['unrecognized environment variable ETCD_FOO=bar'])
})

env('bad variable values fail like bad flags', () => {
  fails('--name x', /invalid value "maybe" for ETCD_FORCE_NEW_CLUSTER/, 2, { ETCD_FORCE_NEW_CLUSTER: 'maybe' })
  fails('--name x', /invalid value "x" for flag -election-timeout/, 2, { ETCD_ELECTION_TIMEOUT: 'x' })
  fails('--name x', /invalid value "old" for flag -initial-cluster-state/, 2, { ETCD_INITIAL_CLUSTER_STATE: 'old' })
})

env.run()

const valid = suite('config: validation (CLI-4, CLI-7)')

valid('election timeout vs heartbeat, with etcd wording', () => {
  fails('--heartbeat-interval 500', /^--election-timeout\[1000ms\] should be at least as 5 times as --heartbeat-interval\[500ms\]$/, 1)
  fails('--election-timeout 60000', /--election-timeout\[60000ms\] is too long, and should be set less than 50000ms/, 1)
  fails('--heartbeat-interval 0', /--heartbeat-interval must be greater than 0/, 1)
  assert.is(p('--heartbeat-interval 200 --election-timeout 1000').electionTimeoutMs, 1000, 'exactly 5x is fine')
})

valid('listen client URLs need advertise client URLs', () => {
  fails('--listen-client-urls http://127.0.0.1:2379', /--advertise-client-urls is required when --listen-client-urls is set explicitly/, 1)
})

valid('bad URLs', () => {
  fails('--listen-peer-urls ftp://127.0.0.1:2380', /URL scheme must be http or https: ftp:/, 1)
  fails('--listen-peer-urls http://127.0.0.1', /does not have the form "host:port"/, 1)
  fails('--initial-advertise-peer-urls http://127.0.0.1:2380/path', /must not contain a path/, 1)
  fails('--listen-peer-urls not-a-url', /invalid URL/, 1)
  fails('--listen-peer-urls http://example.com:2380', /expected IP in URL for binding/, 1)
  fails('--initial-cluster nourl', /is not of the form name=peerURL/, 1)
  fails('--initial-cluster a=http://1.1.1.1:1,b=http://1.1.1.1:1', /is used by both a and b/, 1)
  fails('--discovery nope', /--discovery: invalid URL/, 1)
})

valid('only one of --initial-cluster, --discovery, --discovery-srv', () => {
  fails('--initial-cluster default=http://localhost:2380 --discovery http://d/x', /multiple discovery or bootstrap flags are set/, 1)
  fails('--discovery http://d/x --discovery-srv example.com', /multiple discovery or bootstrap flags are set/, 1)
})

valid('enumerations', () => {
  fails('--initial-cluster-state old', /invalid value "old" for flag -initial-cluster-state: valid values are "new", "existing"/, 2)
  fails('--discovery-fallback maybe', /-discovery-fallback/, 2)
  fails('--log-level verbose', /-log-level/, 2)
  fails('--proxy on', /proxy mode is not supported/, 1)
})

valid('https needs certificate and key; client cert auth needs a CA; TLS flags without https are warned about', () => {
  fails('--listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379', /uses https but --cert-file and --key-file are not both set/, 1)
  fails('--listen-peer-urls https://127.0.0.1:2380 --peer-cert-file c', /uses https but --peer-cert-file and --peer-key-file/, 1)
  fails('--listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 --cert-file c --key-file k --client-cert-auth', /--client-cert-auth requires --trusted-ca-file/, 1)
  const ok = p('--listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 --cert-file c --key-file k')
  assert.is(ok.listenClient[0]!.tls, true)
  assert.equal(p('--cert-file c --key-file k').warnings, ['client TLS flags are ignored: no https:// --listen-client-urls'])
})

valid('bootstrap check: name and advertised peer URLs must match --initial-cluster', () => {
  assert.throws(() => checkBootstrap(p('--name etcd9 --initial-cluster etcd1=http://127.0.0.1:2380')), /couldn't find local name "etcd9"/)
  assert.throws(
    () => checkBootstrap(p('--name etcd1 --initial-cluster etcd1=http://127.0.0.1:2381 --initial-advertise-peer-urls http://127.0.0.1:2380')),
    /--initial-cluster has etcd1=http:\/\/127.0.0.1:2381 but missing from --initial-advertise-peer-urls=http:\/\/127.0.0.1:2380/,
  )
  checkBootstrap(p('--name x --discovery http://d/x'))
})

valid('legacy flags (CLI-6): address flags translated, -peers refused, old tuning flags ignored', () => {
  const c = p('-addr 10.0.0.1:4001 -bind-addr 0.0.0.0:4001 -peer-addr 10.0.0.1:7001 -peer-bind-addr 0.0.0.0:7001 --initial-cluster default=http://10.0.0.1:7001')
  assert.equal(c.advertiseClientUrls, ['http://10.0.0.1:4001'])
  assert.equal(c.listenClientUrls, ['http://0.0.0.0:4001'])
  assert.equal(c.initialAdvertisePeerUrls, ['http://10.0.0.1:7001'])
  assert.equal(c.listenPeerUrls, ['http://0.0.0.0:7001'])
  assert.is(c.warnings.filter((w) => w.includes('deprecated')).length, 4)
  fails('-peers 1.2.3.4:7001', /^flag "-peers" is no longer supported\.$/, 2)
  fails('-peers-file f', /flag "-peers-file" is no longer supported/, 2)
  const ign = p('-v -vv -snapshot -force -cluster-active-size 9 -retry-interval 1 -config x')
  assert.is(ign.warnings.length, 7)
  assert.is(ign.name, 'default')
})

valid.run()

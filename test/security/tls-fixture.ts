// Test helper for the security suites: a throw-away PKI made with `openssl` in a temp dir (two
// CAs; server, peer and client certificates; nothing is ever written into the repository), a
// cluster of raftkv child processes (`node --import tsx server/cli.ts` with etcd's TLS flags) on
// reserved loopback ports, and an https request helper. Kills only the pids it started.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import http from 'node:http'
import path from 'node:path'
import { initialCluster, memberFlags, memberUrls, startRaftkv, type Child } from '../support/procs.js'
import { removeDir, tempDir } from '../support/tmp.js'
import { sleep } from '../support/wait.js'

/** File paths of one certificate + key. */
export interface CertFiles {
  cert: string
  key: string
}

/** A test PKI: `ca` signs server/peer/client certs; `otherCa` signs the rogue ones. */
export interface Pki {
  dir: string
  ca: string
  otherCa: string
  server: CertFiles
  peer: CertFiles
  /** Client certificate with CN `alice` (also a user name in the CN-auth test). */
  client: CertFiles
  /** Client certificate with CN `root`. */
  rootClient: CertFiles
  /** Peer and client certificates signed by `otherCa`. */
  roguePeer: CertFiles
  rogueClient: CertFiles
  close(): void
}

/** Makes the PKI with openssl (EC P-256, 2 days). */
export function makePki(): Pki {
  const dir = tempDir('pki')
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
  }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  const makeCa = (name: string): void => ossl('req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`)
  makeCa('ca')
  makeCa('other-ca')
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n')
  writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n')
  const issue = (name: string, cn: string, ca: string, ext: string): CertFiles => {
    ossl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', ext)
    return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) }
  }
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    otherCa: path.join(dir, 'other-ca.pem'),
    server: issue('server', 'server', 'ca', 'server.ext'),
    peer: issue('peer', 'peer', 'ca', 'server.ext'),
    client: issue('client', 'alice', 'ca', 'client.ext'),
    rootClient: issue('root-client', 'root', 'ca', 'client.ext'),
    roguePeer: issue('rogue-peer', 'peer', 'other-ca', 'server.ext'),
    rogueClient: issue('rogue-client', 'alice', 'other-ca', 'client.ext'),
    close: () => removeDir(dir),
  }
}

/** TLS material a request presents / trusts. */
export interface ClientTls {
  ca?: string
  cert?: CertFiles
}

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  json: any
}

/** One request (http or https); rejects on connection / handshake errors. */
export function request(url: string, opts: { method?: string; body?: string; headers?: Record<string, string>; tls?: ClientTls; timeoutMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    const isHttps = u.protocol === 'https:'
    const tlsOpts = isHttps
      ? {
          ca: opts.tls?.ca ? readFileSync(opts.tls.ca) : undefined,
          cert: opts.tls?.cert ? readFileSync(opts.tls.cert.cert) : undefined,
          key: opts.tls?.cert ? readFileSync(opts.tls.cert.key) : undefined,
          agent: false as const,
        }
      : { agent: false as const }
    const req = (isHttps ? https : http).request(url, { method: opts.method ?? 'GET', headers: opts.headers, ...tlsOpts }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => {
        let json: any
        try { json = JSON.parse(body) } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json })
      })
      res.on('error', reject)
    })
    req.setTimeout(opts.timeoutMs ?? 5000, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(opts.body)
  })
}

/** A form body request helper for the keys API. */
export function form(fields: Record<string, string>): { body: string; headers: Record<string, string> } {
  return { body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }
}

export interface TlsMember {
  name: string
  clientUrl: string
  peerUrl: string
  dataDir: string
  args: string[]
  proc?: Child
  exited?: Promise<number | null>
  output: () => string
}

/** A cluster of child processes with https client and peer URLs and client-cert auth on both. */
export class TlsCluster {
  readonly members: TlsMember[] = []
  readonly dir: string
  readonly token = 'sec-' + Math.random().toString(36).slice(2, 8)

  constructor(readonly pki: Pki) {
    this.dir = tempDir('tls-cluster')
  }

  /** Flags of a member using `peerCert` (default: the CA-signed peer certificate). */
  tlsArgs(peerCert: CertFiles = this.pki.peer, peerCa = this.pki.ca): string[] {
    const p = this.pki
    return [
      '--cert-file', p.server.cert, '--key-file', p.server.key, '--trusted-ca-file', p.ca, '--client-cert-auth',
      '--peer-cert-file', peerCert.cert, '--peer-key-file', peerCert.key, '--peer-trusted-ca-file', peerCa, '--peer-client-cert-auth',
    ]
  }

  async newMember(name: string): Promise<TlsMember> {
    const m: TlsMember = {
      name,
      ...(await memberUrls('https')),
      dataDir: path.join(this.dir, `${name}.etcd`),
      args: [],
      output: () => {
        try { return readFileSync(path.join(this.dir, `${name}.log`), 'utf8') } catch { return '' }
      },
    }
    this.members.push(m)
    return m
  }

  spawn(m: TlsMember, state: 'new' | 'existing', initialCluster: string, extra: string[]): void {
    const flags = [...memberFlags({ ...m, initialCluster, state, token: this.token, heartbeatMs: 50, electionMs: 500 }), ...extra]
    const proc = startRaftkv(flags, { logFile: path.join(this.dir, `${m.name}.log`) })
    m.args = proc.proc.spawnargs.slice(1)
    m.proc = proc
    m.exited = proc.exited.then((e) => e.code)
  }

  /**
   * Adds a member through the first one (POST /v2/members, over TLS) and starts it with state
   * existing and the given TLS flags; resolves with it and its member id.
   */
  async addMember(name: string, tlsArgs = this.tlsArgs()): Promise<{ member: TlsMember; id: string }> {
    const m = await this.newMember(name)
    const add = await request(this.members[0]!.clientUrl + '/v2/members', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ peerURLs: [m.peerUrl] }),
      tls: this.goodClient,
    })
    if (add.status !== 201) throw new Error(`member add: ${add.status} ${add.body}`)
    this.spawn(m, 'existing', initialCluster(this.members), tlsArgs)
    return { member: m, id: add.json.id as string }
  }

  /** Starts `size` members over https and waits for an agreed leader. */
  async start(size: number): Promise<void> {
    for (let i = 1; i <= size; i++) await this.newMember(`s${i}`)
    const ic = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(',')
    for (const m of this.members) this.spawn(m, 'new', ic, this.tlsArgs())
    await this.waitLeader(60_000)
  }

  /** Client TLS that the members accept. */
  get goodClient(): ClientTls {
    return { ca: this.pki.ca, cert: this.pki.client }
  }

  async waitLeader(timeoutMs = 20_000): Promise<string> {
    const until = Date.now() + timeoutMs
    const running = this.members.filter((m) => m.proc)
    while (Date.now() < until) {
      const leads = await Promise.all(
        running.map((m) =>
          request(m.clientUrl + '/v2/stats/self', { tls: this.goodClient, timeoutMs: 1000 }).then(
            (r) => (r.status === 200 ? (r.json.leaderInfo.leader as string) : ''),
            () => '',
          ),
        ),
      )
      if (leads[0] && leads.every((l) => l === leads[0])) return leads[0]
      await sleep(100)
    }
    throw new Error(`no leader within ${timeoutMs} ms; logs in ${this.dir}:\n${running.map((m) => m.output().slice(-2000)).join('\n')}`)
  }

  async kill(m: TlsMember): Promise<void> {
    if (!m.proc) return
    await m.proc.kill()
    m.proc = undefined
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m)))
    if (process.env.KEEP_E2E) console.error(`logs kept in ${this.dir}`)
    else removeDir(this.dir)
  }
}

// `raftkv lock` and `raftkv elect`: the lock and election recipes from the command line, as
// `etcdctl lock` / `etcdctl elect` (v3) have them, on either API.
//
//   raftkv lock NAME [--ttl=10] [-- cmd args...]
//     Without a command: prints the lock key once held, holds until SIGINT/SIGTERM, releases.
//     With one: runs it while holding the lock, with the fencing token in RAFTKV_LOCK_TOKEN
//     (`<cluster id>:<revision>`), RAFTKV_LOCK_KEY, and etcdctl's ETCD_LOCK_KEY / ETCD_LOCK_REV;
//     if the lock is lost the command gets SIGTERM (SIGKILL after --kill-grace ms) and raftkv
//     exits 2; otherwise it exits with the command's status and releases the lock.
//   raftkv elect NAME PROPOSAL [--ttl=10]
//     Campaigns; once leading prints the leader key and the proposal (like etcdctl), holds until
//     SIGINT/SIGTERM (then resigns). Exits 2 if the leadership is lost.
//   raftkv elect NAME -l|--listen
//     Prints the leader key and value at every change.
// Common: --endpoints=URL,... (default ETCDCTL_ENDPOINTS or http://127.0.0.1:2379),
//         --api=v2|v3 (default: v3 if the endpoint answers the v3 gateway, else v2).

import { spawn } from 'node:child_process'
import { Client, ClientV3 } from '../src/index.js'
import { Election, Lock, formatToken, type LockHandle } from '../recipes/index.js'
import type { AnyClient } from '../recipes/api.js'

interface Parsed {
  positional: string[]
  command: string[]
  endpoints: string[]
  api: 'v2' | 'v3' | undefined
  ttl: number
  listen: boolean
  killGraceMs: number
}

class UsageError extends Error {}

const USAGE = `usage:
  raftkv lock NAME [--ttl=SECONDS] [-- COMMAND ARGS...]
  raftkv elect NAME PROPOSAL [--ttl=SECONDS]
  raftkv elect NAME --listen
options: --endpoints=URL[,URL...]  --api=v2|v3 (default: detected)  --kill-grace=MS (lock, default 5000)
`

function parse(args: string[]): Parsed {
  const out: Parsed = {
    positional: [], command: [], endpoints: (process.env.ETCDCTL_ENDPOINTS ?? 'http://127.0.0.1:2379').split(','),
    api: undefined, ttl: 10, listen: false, killGraceMs: 5000,
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--') { out.command = args.slice(i + 1); break }
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(a)
    if (!m) { out.positional.push(a); continue }
    const [, name, inline] = m
    const value = (): string => {
      const v = inline ?? args[++i]
      if (v === undefined) throw new UsageError(`--${name} needs a value`)
      return v
    }
    switch (name) {
      case 'endpoints': out.endpoints = value().split(',').filter(Boolean); break
      case 'api': {
        const v = value()
        if (v !== 'v2' && v !== 'v3') throw new UsageError(`--api must be v2 or v3, got ${v}`)
        out.api = v
        break
      }
      case 'ttl': {
        const v = Number(value())
        if (!Number.isInteger(v) || v < 1) throw new UsageError('--ttl must be a whole number of seconds >= 1')
        out.ttl = v
        break
      }
      case 'kill-grace': out.killGraceMs = Number(value()); break
      case 'l': case 'listen': out.listen = true; break
      case 'h': case 'help': throw new UsageError('')
      default: throw new UsageError(`unknown flag --${name}`)
    }
  }
  if (out.endpoints.length === 0) throw new UsageError('--endpoints is empty')
  return out
}

/** v3 when the first endpoint that answers serves the v3 gateway; v2 otherwise. */
async function detectApi(endpoints: string[]): Promise<'v2' | 'v3'> {
  for (const ep of endpoints) {
    try {
      const res = await fetch(`${ep.replace(/\/+$/, '')}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(3000) })
      await res.arrayBuffer()
      return res.status === 200 ? 'v3' : 'v2'
    } catch {
      // unreachable: try the next one
    }
  }
  throw new Error(`no endpoint answered: ${endpoints.join(', ')}`)
}

/** Resolves with the first of SIGINT/SIGTERM. */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals): void => { process.off('SIGINT', on); process.off('SIGTERM', on); resolve(s) }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

async function lockCommand(client: AnyClient, p: Parsed): Promise<number> {
  const name = p.positional[0]
  if (!name || p.positional.length > 1) throw new UsageError('lock takes one NAME (put the command after --)')
  const stop = new AbortController()
  const signalled = nextSignal()
  void signalled.then(() => stop.abort())
  let h: LockHandle
  try {
    h = await new Lock(client, name, { ttl: p.ttl, owner: `raftkv-cli/${process.pid}` }).acquire({ signal: stop.signal })
  } catch (err) {
    if (stop.signal.aborted) return 130
    throw err
  }
  const lost = new Promise<void>((resolve) => h.signal.addEventListener('abort', () => resolve(), { once: true }))
  if (p.command.length === 0) {
    process.stdout.write(`${h.key}\n`)
    await Promise.race([signalled, lost])
    if (h.state === 'lost') { process.stderr.write(`raftkv lock: lost ${h.key}\n`); return 2 }
    await h.release()
    return 0
  }
  const child = spawn(p.command[0]!, p.command.slice(1), {
    stdio: 'inherit',
    env: {
      ...process.env,
      RAFTKV_LOCK_TOKEN: formatToken(h.token), RAFTKV_LOCK_KEY: h.key,
      ETCD_LOCK_KEY: h.key, ETCD_LOCK_REV: String(h.token.index),
    },
  })
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 + (signalNumber(sig) ?? 1) : 1)))
    child.on('error', (err) => { process.stderr.write(`raftkv lock: ${err.message}\n`); resolve(127) })
  })
  // Our own SIGINT/SIGTERM goes on to the command; its exit decides ours.
  void signalled.then((s) => child.kill(s))
  const first = await Promise.race([exited.then((code) => ({ code })), lost.then(() => ({ code: undefined }))])
  if (first.code !== undefined && h.state !== 'lost') {
    await h.release()
    return first.code
  }
  // The lock is gone: whoever holds it now must not overlap with this command.
  process.stderr.write(`raftkv lock: lost ${h.key}; stopping the command\n`)
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), p.killGraceMs)
  await exited
  clearTimeout(t)
  return 2
}

async function electCommand(client: AnyClient, p: Parsed): Promise<number> {
  const [name, proposal, ...extra] = p.positional
  if (!name || extra.length > 0) throw new UsageError('elect takes NAME and PROPOSAL (or --listen)')
  const e = new Election(client, name, { ttl: p.ttl, owner: `raftkv-cli/${process.pid}` })
  const stop = new AbortController()
  const signalled = nextSignal()
  void signalled.then(() => stop.abort())
  if (p.listen || proposal === undefined) {
    if (!p.listen) throw new UsageError('elect needs a PROPOSAL (or --listen to observe)')
    try {
      for await (const l of e.observe({ signal: stop.signal })) {
        if (l) process.stdout.write(`${l.key}\n${typeof l.value === 'string' ? l.value : JSON.stringify(l.value)}\n`)
      }
    } catch (err) {
      if (!stop.signal.aborted) throw err
    }
    return 0
  }
  let lead
  try {
    lead = await e.campaign(proposal, { signal: stop.signal })
  } catch (err) {
    if (stop.signal.aborted) return 130
    throw err
  }
  process.stdout.write(`${lead.key}\n${proposal}\n`)
  const lost = new Promise<void>((resolve) => lead.signal.addEventListener('abort', () => resolve(), { once: true }))
  await Promise.race([signalled, lost])
  if (lead.state === 'lost') { process.stderr.write(`raftkv elect: lost the leadership (${lead.key})\n`); return 2 }
  await lead.resign()
  return 0
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig]
}

/** Runs `raftkv <lock|elect> ...args`; resolves with the exit status. */
export async function runRecipeCommand(cmd: string, args: string[]): Promise<number> {
  let p: Parsed
  try {
    p = parse(args)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`${err.message ? `raftkv ${cmd}: ${err.message}\n` : ''}${USAGE}`)
    return err.message ? 2 : 0
  }
  const api = p.api ?? (await detectApi(p.endpoints))
  const client: AnyClient = api === 'v3' ? new ClientV3({ endpoints: p.endpoints, timeout: 5000 }) : new Client({ endpoints: p.endpoints, timeout: 5000 })
  // The recipes' timers are unref'd (they never keep a program alive); this command must live
  // until it is done.
  const alive = setInterval(() => {}, 1 << 30)
  try {
    return cmd === 'lock' ? await lockCommand(client, p) : await electCommand(client, p)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`raftkv ${cmd}: ${err.message}\n${USAGE}`)
      return 2
    }
    throw err
  } finally {
    clearInterval(alive)
    client.close()
  }
}

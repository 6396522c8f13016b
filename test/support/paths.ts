// Where things are: the repository root (so tests run from any cwd), the CLI entry point and the
// etcd binary used for differential and compatibility tests.
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (two levels above this file). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The raftkv command line, run as `node --import tsx <cliPath>`. */
export const cliPath = path.join(repoRoot, 'server', 'cli.ts')

/** The real etcd 3.4 binary ($ETCD_BIN or /usr/bin/etcd). */
export const etcdBin = process.env.ETCD_BIN ?? '/usr/bin/etcd'

/** Whether a real etcd binary is installed (tests against etcd are skipped without one). */
export function haveEtcd(): boolean {
  return existsSync(etcdBin)
}

// Stand-in launcher used only while server/cli.ts does not exist: starts one raftkv member
// in-process with startServer() from the same etcd flags. Single member only (no peers).
import { parseArgs } from '../server/config.js'
import { startServer } from '../server/index.js'

const server = await startServer(parseArgs(process.argv.slice(2), process.env))
const stop = (): void => { void server.close().finally(() => process.exit(0)) }
process.once('SIGTERM', stop)
process.once('SIGINT', stop)

import { listProcs } from './list-procs.js'

listProcs('etcd-v2')

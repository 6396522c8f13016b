import { valuesProcs } from './values-procs.js'

valuesProcs('raftkv')

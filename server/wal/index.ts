// Public surface of durable storage: the WAL, the snapshotter and the boot helper.
export { Wal, DEFAULT_SEGMENT_SIZE, type WalOptions, type WalReadResult, type WalMetadata, type WalSnapshot, type TailRepair } from './wal.js'
export { WalCorruptError, WalFailedError, WalClosedError, WalExistsError, WalNotFoundError, WalSnapshotMismatchError } from './errors.js'
export {
  openDurableStorage,
  durableStorageExists,
  readDurableMetadata,
  memberDirs,
  type DurableStorage,
  type DurableStorageOptions,
  type BootState,
  type PersistBatch,
} from './storage.js'
export { Snapshotter, snapFileName, SnapCorruptError, type SnapshotterOptions, type SnapFile } from '../snap/snapshotter.js'

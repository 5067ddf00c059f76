/** Locks, as faces other than the operations need them (the server at start). */
export { clearInheritedLocks } from '../store/lock.js';

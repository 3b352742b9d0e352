// Public API: run forkv inside a Node process.
export { Server } from './server';
export { ConfigStore } from './config';

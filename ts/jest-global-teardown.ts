// Jest's globalTeardown (jest.config: globalTeardown: 'forkv/jest-global-teardown'): stops the
// servers 'forkv/jest-global-setup' started.
import { stopRunServers } from './run-servers';

export default async function globalTeardown(): Promise<void> {
  await stopRunServers();
}

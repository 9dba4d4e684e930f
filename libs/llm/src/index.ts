export * from './semaphore.js';
export * from './server.js';
export * from './chat-client.js';

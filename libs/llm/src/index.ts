export * from './semaphore.js';
export * from './chat-client.js';

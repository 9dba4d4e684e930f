export * from './validate.js';
export * from './jobs.js';
export * from './yaml.js';
export * from './client.js';
export * from './executor.js';

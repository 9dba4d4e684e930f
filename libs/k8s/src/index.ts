export * from './validate.js';
export * from './jobs.js';
export * from './yaml.js';

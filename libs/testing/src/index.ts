export * from './media/index.js';
export * from './ytcommons/index.js';
export * from './http.js';
export * from './s3rver.js';
export * from './s3-conditional.js';
export * from './tgi/index.js';
export * from './openai/index.js';
export * from './k8s/index.js';

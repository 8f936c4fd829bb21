// How models import v2serve: by name, from anywhere, always the running server's modules.
export { registerModelImports } from './register.js';
export { findPlantedV2serve, type PlantedV2serve } from './planted-copy.js';

// Test-only preload (node --import): makes the native add-ons named in EK_TEST_UNLOADABLE (comma-separated; default
// '@u4/opencv4nodejs') fail to load, as a missing or mis-built add-on does on a device: through require (how
// src/vision/opencv.ts loads OpenCV) and through import (how onnxruntime-node is loaded).
import Module, { register } from 'node:module';

const blocked = (process.env.EK_TEST_UNLOADABLE ?? '@u4/opencv4nodejs').split(',').filter(Boolean);
const message = (name) => `Cannot find module '${name}/build/Release/addon.node' (made unloadable by the test)`;

const originalLoad = Module._load;
Module._load = function load(request, ...rest) {
  if (blocked.includes(request)) throw new Error(message(request));
  return originalLoad.call(this, request, ...rest);
};

const hooks = `
const blocked = ${JSON.stringify(blocked)};
export async function resolve(specifier, context, next) {
  if (blocked.includes(specifier)) throw new Error("Cannot find module '" + specifier + "/build/Release/addon.node' (made unloadable by the test)");
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);

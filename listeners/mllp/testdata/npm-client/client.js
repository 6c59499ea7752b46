// Drives medgate's MLLP listener with simple-hl7's TcpClient, a third-party
// MLLP implementation from the npm registry. Usage: node client.js PORT [-]
// Sends the messages below, or with "-" the JSON array of message strings
// read from stdin, one after another on one kept-alive connection and
// prints one JSON line per ACK: {"sent": control ID, "code": MSA-1,
// "msa2": MSA-2, "ackType": MSH-9, "err": ERR present}.
// The messages are synthetic; they hold no real patient data.
'use strict';
const hl7 = require('simple-hl7');

const port = Number(process.argv[2]);
const msgs = process.argv[3] === '-' ? JSON.parse(require('fs').readFileSync(0, 'utf8')) : [
  ['NPM1', 'ORU^R01'],
  ['NPM2', 'ADT^A01'],
  ['NPM-INVALID', 'ORU^R01'],
  ['NPM3', 'ORU^R01'],
].map(([ctl, type]) =>
  'MSH|^~\\&|NPMCLIENT|LAB|MEDGATE|CLINIC|20260101120000||' + type + '|' + ctl + '|P|2.3.1\r' +
  'PID|1||TEST-1||Test^Patient\r' +
  'OBX|1|NM|WBC^White cells||5.2|10^9/L|4-10|N|||F\r');

const client = hl7.Server.createTcpClient({ host: '127.0.0.1', port, keepalive: true });
let i = 0;
function next() {
  if (i === msgs.length) {
    client.close();
    return;
  }
  const ctl = msgs[i].split('\r')[0].split('|')[9];
  client.send(msgs[i], (err, ack) => {
    if (err) {
      console.error('error:', err.message);
      process.exit(1);
    }
    const msa = ack.getSegment('MSA');
    console.log(JSON.stringify({
      sent: ctl,
      code: msa.getField(1),
      msa2: msa.getField(2),
      ackType: ack.header.getField(7),
      err: ack.getSegment('ERR') !== undefined,
    }));
    i++;
    // simple-hl7 clears its awaiting-response flag only after this
    // callback returns, so the next send must wait a tick.
    setImmediate(next);
  });
}
next();
setTimeout(() => { console.error('timeout'); process.exit(2); }, 10000).unref();

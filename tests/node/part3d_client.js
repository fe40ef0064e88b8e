// Submit a model to part3d with Tencent's Node.js SDK, poll until the job ends, print JSON.
// Environment: ENDPOINT (host:port), SECRET_ID, SECRET_KEY, FILE_URL.
const tencentcloud = require("tencentcloud-sdk-nodejs-intl-en");

const Client = tencentcloud.hunyuan.v20230901.Client;
const models = tencentcloud.hunyuan.v20230901.Models;
const { Credential, ClientProfile, HttpProfile } = tencentcloud.common;

const httpProfile = new HttpProfile();
httpProfile.protocol = "http://";
httpProfile.endpoint = process.env.ENDPOINT;
httpProfile.reqTimeout = 30;
const clientProfile = new ClientProfile();
clientProfile.httpProfile = httpProfile;
// TC3 (this SDK line defaults to HmacSHA256): it signs `host` without the port.
clientProfile.signMethod = "TC3-HMAC-SHA256";
const client = new Client(
  new Credential(process.env.SECRET_ID, process.env.SECRET_KEY),
  "ap-singapore",
  clientProfile,
);

// This SDK line answers through callbacks, with request and response model objects.
function call(action, params) {
  return new Promise((resolve, reject) => {
    const req = new models[`${action}Request`]();
    req.from_json_string(JSON.stringify(params));
    client[action](req, (err, resp) => (err ? reject(err) : resolve(JSON.parse(resp.to_json_string()))));
  });
}

async function main() {
  const submitted = await call("SubmitHunyuan3DPartJob", {
    File: { Url: process.env.FILE_URL, Type: "FBX" },
  });
  const deadline = Date.now() + 120000;
  for (;;) {
    const job = await call("QueryHunyuan3DPartJob", { JobId: submitted.JobId });
    if (job.Status === "DONE" || job.Status === "FAIL" || Date.now() > deadline) {
      console.log(JSON.stringify({ JobId: submitted.JobId, ...job }));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

main().catch((err) => {
  console.log(JSON.stringify({ error: err.code || String(err), message: err.message }));
  process.exit(1);
});

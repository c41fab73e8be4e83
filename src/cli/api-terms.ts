/**
 * The API's wording for what the CLI takes as flags. The use cases (and the
 * input schemas `kagi issue` shares with POST /api/v1/certificates) name JSON
 * fields, and API clients and tests depend on those messages; the CLI says
 * the same in its own terms, here, as the message leaves the command.
 */
const rewrites: [RegExp, string][] = [
  [/\bdevice\.hostname\b/g, '--hostname'],
  [/\bdevice\.name\b/g, '--device-name'],
  [/\bdevice\.platform\b/g, '--platform'],
  [/\bdevice\.serialNumber\b/g, '--serial-number'],
  [/\bkeyType\b/g, '--key-type'],
  [/add renew=true \(kagi bundle --renew\)/g, 'add --renew'],
  [/omit it when sending a csr/g, 'omit it when giving --csr'],
  [/the device profile needs "device" with a name, platform and hostname/g, 'the device profile needs --device-name, --platform and --hostname'],
  [/^bundle (\S+) does not match the device's platform/, "--platform $1 does not match the device's platform"],
  [/\(as returned by the API\)/g, '(as `kagi issue` prints it)'],
  // A message that starts with a field name: "profile must be user or device", "user: …".
  [/^(profile|user|csr|reason)\b(?=[: ])/, '--$1'],
]

/** `message` with the API's field names replaced by the CLI flags that set them. */
export function inCliTerms(message: string): string {
  return rewrites.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), message)
}

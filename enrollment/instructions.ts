/**
 * Installation steps per platform, in English and Japanese, including the
 * traps users hit (reference panos-and-globalprotect.md §3 and §4): the
 * GlobalProtect system extension on macOS, full trust for a manually
 * installed root on iOS, the Windows store a certificate must land in, CA
 * trust on ChromeOS, and the PKCS#12 password on Android.
 */
import type { Platform, Credential } from './bundle-types.js'
import { globalProtectSettingsDomain } from './apple-payloads.js'
import { portalAddress } from './bundle-common.js'

export type InstructionLanguage = 'en' | 'ja'
export const instructionLanguages: readonly InstructionLanguage[] = ['en', 'ja']

/** What the steps can name when the caller knows it; each has a generic fallback. */
export interface InstructionOptions {
  /** The GlobalProtect portal (KAGI_GP_PORTAL); without it the steps ask the user to type the address they were given. */
  portal?: string
  /** The bundle's file name. */
  filename?: string
  /** KAGI_CA_NAME, as the CA certificates and the profile are named after it. */
  organization?: string
  /** Where the CA certificates can be downloaded (kagi's /pki/root.crt and /pki/issuing.crt); without them the steps send the user to the administrator. */
  caCertificates?: { root: string; issuing: string }
}

interface Context {
  kind: Credential['kind']
  device: boolean
  portal?: string
  file: string
  /** The script name in a command line (a placeholder when the file name is unknown). */
  script: string
  org: string
  /** The `defaults write` fallback for macOS (only with a portal). */
  defaultsCommand?: string
  ca?: { root: string; issuing: string }
}

/**
 * The documented GlobalProtect plist written directly (reference §3.3): the
 * fallback when GlobalProtect ignores the managed preferences the profile
 * installs (UNCONFIRMED whether it reads them, see apple-profile.ts). The
 * value is an old-style plist dictionary, which `defaults` accepts; all
 * values are strings, as GlobalProtect writes them.
 */
export function macosPortalCommand(portal: string, kind: Credential['kind']): string {
  const prelogon = kind === 'device' ? ' Prelogon = "1";' : ''
  return (
    `sudo defaults write /Library/Preferences/${globalProtectSettingsDomain} 'Palo Alto Networks' ` +
    `'{ GlobalProtect = { PanSetup = { Portal = "${portal}";${prelogon} }; }; }' && sudo killall cfprefsd`
  )
}

const english = (c: Context): Record<Platform, string[]> => ({
  macos: [
    `Double-click ${c.file}. macOS registers the profile and asks you to review it.`,
    `Open System Settings → General → Device Management (macOS 13–14: Privacy & Security → Profiles), double-click the ${c.org} profile and click Install. ` +
      (c.device
        ? 'Enter an administrator password: the machine certificate goes into the System keychain.'
        : 'Enter your Mac password: the certificate goes into your login keychain.'),
    'Install the GlobalProtect app if it is not installed yet. macOS blocks its system extension until you allow it: System Settings → Privacy & Security → Allow ' +
      '(macOS 15 and later: General → Login Items & Extensions → Network Extensions → turn on GlobalProtect). Allow it only if the developer is Palo Alto Networks, Team ID PXPZ95SK77.',
    c.portal
      ? `The profile sets the GlobalProtect portal to ${c.portal}. GlobalProtect may ignore settings delivered by a profile; if it still asks for a portal, type ${c.portal}, ` +
        `or run this in Terminal and restart GlobalProtect: ${c.defaultsCommand}`
      : 'Open GlobalProtect and type the portal address your administrator gave you.',
    c.device
      ? 'When GlobalProtect first uses the certificate, macOS asks for access to the key in the System keychain: enter an administrator password and click Always Allow.'
      : 'When GlobalProtect first uses the certificate, macOS asks for access to the key in your keychain: enter your Mac password and click Always Allow.',
  ],
  ios: [
    `Open the download link in Safari and tap Allow. Install the profile within 8 minutes, or iOS discards it.`,
    'Open Settings → Profile Downloaded (near the top; also under Settings → General → VPN & Device Management), tap Install, enter your passcode and tap Install again.',
    `Turn on full trust for the root certificate: Settings → General → About → Certificate Trust Settings → turn on ${c.org} Root CA. Without this step the VPN cannot use the certificate.`,
    c.portal
      ? `Install GlobalProtect from the App Store and open it: the VPN configuration for ${c.portal} is already installed (Settings → VPN).`
      : 'Install GlobalProtect from the App Store, open it, type the portal address your administrator gave you and choose your certificate when asked.',
  ],
  windows: [
    `Save ${c.file}, right-click it and choose Run with PowerShell. If Windows refuses to run scripts, open PowerShell in the download folder and run: ` +
      `powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\\${c.script}`,
    c.device
      ? 'The machine certificate goes into the computer store (Local Computer → Personal), so the script needs administrator rights: approve the Windows prompt (UAC), or ask IT to enter an administrator account.'
      : 'The script first puts your certificate into your own store (Current User → Personal). Then Windows asks for administrator approval (UAC) to install the CA certificates into the computer stores and set the GlobalProtect portal: approve it, or ask IT to enter an administrator account.',
    'Wait for “Done”, then press Enter to close the window. If it reports FAILED, the message says why; the script is safe to run again.',
    c.portal ? `Open GlobalProtect: the portal ${c.portal} is already filled in.` : 'Open GlobalProtect and type the portal address your administrator gave you.',
    `Delete ${c.file} afterwards: it contains your private key.`,
  ],
  chromeos: [
    `Type chrome://network in the address bar, open the General tab, click Import ONC file and choose ${c.file}. This installs the ${c.org} CA certificates and your certificate.`,
    `Check chrome://settings/certificates: your certificate is under Your certificates and the ${c.org} CAs under Authorities. If the CAs are missing, ` +
      (c.ca
        ? `download the root CA certificate (${c.ca.root}) and the issuing CA certificate (${c.ca.issuing}), import each under Authorities → Import, and for the root tick Trust this certificate for identifying websites.`
        : 'ask your administrator for the root CA certificate, import it under Authorities → Import and tick Trust this certificate for identifying websites.'),
    (c.portal ? `Install GlobalProtect from Google Play, open it and enter the portal ${c.portal}.` : 'Install GlobalProtect from Google Play, open it and type the portal address your administrator gave you.') +
      ' Choose your certificate when asked; if GlobalProtect offers none, contact your administrator (the Android app on ChromeOS may not see certificates imported this way).',
    `Delete ${c.file} from Downloads afterwards: it contains your private key.`,
  ],
  android: [
    `Open ${c.file} in the Files app and extract it.`,
    'Open Settings → Security (or Security & privacy → More security settings) → Encryption & credentials → Install a certificate → VPN & app user certificate, ' +
      'choose the .p12 file, type the password shown on the download page (it is not in the file) and give the certificate a name.',
    (c.portal ? `Install GlobalProtect from Google Play, open it and enter the portal ${c.portal}.` : 'Install GlobalProtect from Google Play, open it and type the portal address your administrator gave you.') +
      ' Choose the certificate you installed when asked.',
    'The two .crt files are the CA certificates, needed only if your administrator asks you to install them (Install a certificate → CA certificate). Delete the downloaded files afterwards.',
  ],
})

const japanese = (c: Context): Record<Platform, string[]> => ({
  macos: [
    `${c.file} をダブルクリックします。macOS がプロファイルを登録し、確認を求めます。`,
    `システム設定 → 一般 → デバイス管理（macOS 13〜14 では プライバシーとセキュリティ → プロファイル）を開き、${c.org} のプロファイルをダブルクリックして「インストール」をクリックします。` +
      (c.device ? '管理者のパスワードを入力してください。マシン証明書はシステムキーチェーンに入ります。' : 'Mac のパスワードを入力してください。証明書はログインキーチェーンに入ります。'),
    'GlobalProtect アプリが未インストールならインストールします。macOS は許可するまでシステム拡張機能をブロックします。システム設定 → プライバシーとセキュリティ → 「許可」' +
      '（macOS 15 以降は 一般 → ログイン項目と機能拡張 → ネットワーク機能拡張 → GlobalProtect をオン）。開発元が Palo Alto Networks（Team ID PXPZ95SK77）であることを確かめてから許可してください。',
    c.portal
      ? `プロファイルで GlobalProtect のポータルを ${c.portal} に設定しています。GlobalProtect がプロファイルの設定を読まないことがあります。ポータルを聞かれたら ${c.portal} と入力するか、` +
        `ターミナルで次を実行してから GlobalProtect を再起動してください: ${c.defaultsCommand}`
      : 'GlobalProtect を開き、管理者から知らされたポータルのアドレスを入力します。',
    c.device
      ? 'GlobalProtect が初めて証明書を使うとき、システムキーチェーンの鍵へのアクセスを求められます。管理者のパスワードを入力して「常に許可」をクリックしてください。'
      : 'GlobalProtect が初めて証明書を使うとき、キーチェーンの鍵へのアクセスを求められます。Mac のパスワードを入力して「常に許可」をクリックしてください。',
  ],
  ios: [
    'ダウンロードのリンクを Safari で開き、「許可」をタップします。8 分以内にインストールしないとプロファイルは削除されます。',
    '設定 → 「プロファイルがダウンロードされました」（画面上部。設定 → 一般 → VPN とデバイス管理 にもあります）を開き、「インストール」をタップし、パスコードを入力して、もう一度「インストール」をタップします。',
    `ルート証明書を全面的に信頼します: 設定 → 一般 → 情報 → 証明書信頼設定 → ${c.org} Root CA をオン。これをしないと VPN で証明書を使えません。`,
    c.portal
      ? `App Store から GlobalProtect をインストールして開きます。${c.portal} の VPN 構成はインストール済みです（設定 → VPN）。`
      : 'App Store から GlobalProtect をインストールして開き、管理者から知らされたポータルのアドレスを入力し、求められたら自分の証明書を選びます。',
  ],
  windows: [
    `${c.file} を保存し、右クリックして「PowerShell で実行」を選びます。スクリプトの実行が拒否されたら、ダウンロードしたフォルダーで PowerShell を開いて次を実行します: ` +
      `powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\\${c.script}`,
    c.device
      ? 'マシン証明書はコンピューターのストア（ローカル コンピューター → 個人）に入るため、管理者権限が必要です。ユーザー アカウント制御（UAC）の確認を承認するか、IT 担当者に管理者アカウントを入力してもらってください。'
      : 'スクリプトはまず自分の証明書を自分のストア（現在のユーザー → 個人）に入れます。続いて CA 証明書をコンピューターのストアに入れ GlobalProtect のポータルを設定するため、ユーザー アカウント制御（UAC）で管理者の承認を求めます。承認するか、IT 担当者に管理者アカウントを入力してもらってください。',
    '「Done」と表示されたら Enter キーを押してウィンドウを閉じます。「FAILED」と表示されたら理由がメッセージに出ます。スクリプトは何度実行しても安全です。',
    c.portal ? `GlobalProtect を開きます。ポータル ${c.portal} は入力済みです。` : 'GlobalProtect を開き、管理者から知らされたポータルのアドレスを入力します。',
    `終わったら ${c.file} を削除してください。秘密鍵が入っています。`,
  ],
  chromeos: [
    `アドレスバーに chrome://network と入力し、「General」タブの「Import ONC file」で ${c.file} を選びます。${c.org} の CA 証明書と自分の証明書がインストールされます。`,
    `chrome://settings/certificates を開き、自分の証明書が「証明書」に、${c.org} の CA が「認証局」にあることを確かめます。CA がなければ、` +
      (c.ca
        ? `ルート CA 証明書（${c.ca.root}）と発行 CA 証明書（${c.ca.issuing}）をダウンロードし、それぞれ「認証局」→「インポート」で読み込みます。ルート CA では「この証明書をウェブサイトの識別に使用することを信頼する」にチェックを入れます。`
        : '管理者からルート CA 証明書を受け取り、「認証局」→「インポート」で読み込んで「この証明書をウェブサイトの識別に使用することを信頼する」にチェックを入れます。'),
    (c.portal ? `Google Play から GlobalProtect をインストールして開き、ポータル ${c.portal} を入力します。` : 'Google Play から GlobalProtect をインストールして開き、管理者から知らされたポータルのアドレスを入力します。') +
      '求められたら自分の証明書を選びます。証明書が表示されない場合は管理者に連絡してください（ChromeOS 上の Android アプリからは、この方法で読み込んだ証明書が見えないことがあります）。',
    `終わったら ダウンロード から ${c.file} を削除してください。秘密鍵が入っています。`,
  ],
  android: [
    `ファイル アプリで ${c.file} を開き、展開します。`,
    '設定 → セキュリティ（または セキュリティとプライバシー → その他のセキュリティ設定）→ 暗号化と認証情報 → 証明書のインストール → VPN とアプリのユーザー証明書 を開き、' +
      '.p12 ファイルを選んで、ダウンロードページに表示されたパスワード（ファイルには入っていません）を入力し、証明書に名前を付けます。',
    (c.portal ? `Google Play から GlobalProtect をインストールして開き、ポータル ${c.portal} を入力します。` : 'Google Play から GlobalProtect をインストールして開き、管理者から知らされたポータルのアドレスを入力します。') +
      '求められたら、インストールした証明書を選びます。',
    '2 つの .crt ファイルは CA 証明書です。管理者から指示があった場合だけ（証明書のインストール → CA 証明書）インストールしてください。終わったらダウンロードしたファイルを削除してください。',
  ],
})

const builders: Record<InstructionLanguage, (c: Context) => Record<Platform, string[]>> = { en: english, ja: japanese }

/** Installation steps for one platform and certificate kind, in order, one string per step. */
export function bundleInstructions(platform: Platform, kind: Credential['kind'], lang: InstructionLanguage, options: InstructionOptions = {}): string[] {
  // Checked like the builders do: the macOS step puts it into a shell command.
  const portal = portalAddress(options.portal)
  const context: Context = {
    kind,
    device: kind === 'device',
    portal,
    file: options.filename ?? (lang === 'ja' ? 'ダウンロードしたファイル' : 'the downloaded file'),
    script: options.filename ?? 'kagi-<name>.ps1',
    org: options.organization ?? 'kagi',
    defaultsCommand: portal ? macosPortalCommand(portal, kind) : undefined,
    ca: options.caCertificates,
  }
  return builders[lang](context)[platform]
}

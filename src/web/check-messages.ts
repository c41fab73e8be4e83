import type { Platform } from '../db/database.js'
import { fillPlaceholders, type Lang } from './i18n.js'

/**
 * The sentences of the "check my device" page (check-view.ts), in every
 * language of the enrollment page (i18n.ts). Kept apart from i18n.ts: they
 * are used by this page only. Plain words for employees, no PKI terms they
 * cannot act on.
 */
const en = {
  checkTitle: 'Check my device',
  checkIntro: 'This page shows which certificate this browser sends, and whether it is the one the VPN needs.',
  checkAgain: 'Check again',
  goDevicePage: 'Open the device page',
  noneTitle: 'This browser did not send a certificate',
  noneBody: 'Either the certificate is not installed where this browser looks for it, or the browser asked you to choose one and you cancelled.',
  noneRetry: 'If you cancelled the browser’s question, close every window of this browser, open this page again and choose the certificate issued to your email.',
  where_macos: 'On a Mac, open Keychain Access, choose the “login” keychain and “My Certificates”: your certificate should be there under your email, with its private key.',
  where_windows: 'On Windows, open “Manage user certificates” (certmgr.msc), then Personal › Certificates (Cert:\\CurrentUser\\My): your certificate should be there under your email.',
  where_ios: 'On an iPhone or iPad, open Settings › General › VPN & Device Management: the {ca} profile should be installed there.',
  where_android: 'On Android, open Settings › Security › Encryption & credentials › User credentials: your certificate should be there. When Chrome asks which certificate to use, choose it.',
  where_chromeos: 'On a Chromebook, open Settings › Privacy and security › Security › Manage certificates › Your certificates: your certificate should be there under your email.',
  where_other: 'Open this browser’s certificate settings and look for a certificate issued to your email by {ca}.',
  redownload: 'If it is not there, open the device page, choose “Download again” for this device and install the new file with the steps shown.',
  foreignTitle: 'This browser sent a certificate from someone else',
  foreignBody: 'The certificate it sent was not issued by {ca}, so the VPN will not accept it. When the browser asks, choose the certificate issued to your email by {ca}.',
  foreignIssuer: 'Issued by: {issuer}',
  unknownTitle: 'This is not a device certificate',
  unknownBody: 'It was issued by {ca}, but not to a person or a computer. When the browser asks, choose the certificate issued to your email.',
  revokedTitle: 'This certificate has been revoked',
  revokedBody: 'The certificate of {device} was revoked on {date}, for example because the device was reported lost, so the VPN refuses it. Remove it, then choose “Download again” on the device page and install the new file. If you did not expect this, contact the IT help desk.',
  supersededTitle: 'This certificate has been replaced by a newer one',
  supersededBody: 'A newer certificate for {device} was downloaded on {date}, and this one no longer works. Install the newer file (or choose “Download again” on the device page), then remove this old certificate so that the browser and the VPN do not pick it.',
  expiredTitle: 'This certificate has expired',
  expiredBody: 'The certificate of {device} expired on {date}. Choose “Download again” on the device page and install the new file, then remove the old one.',
  readyTitle: 'This device is ready',
  readyBody: 'The browser sent a valid certificate of {ca}. The VPN accepts it.',
  issuedTo: 'Issued to',
  deviceLabel: 'Device',
  kindLabel: 'Type',
  validUntilLabel: 'Valid until',
  serialLabel: 'Serial',
  kindUser: 'User certificate (for you on this device)',
  kindMachine: 'Machine certificate (for this computer, before sign-in)',
  noDevice: 'no device recorded',
  platformMatch: 'It was issued for a device running {certificate}, and this browser runs on {browser}: they match.',
  platformMismatch: 'It was issued for a device running {certificate}, but this browser runs on {browser}. Each device needs its own certificate: enroll this one on the device page too.',
  platformUnknown: 'This browser’s platform could not be recognized, so it was not compared with the device the certificate was issued for.',
  machineTitle: 'About machine certificates',
  machineNote: 'Browsers send only user certificates (the login keychain on a Mac, Cert:\\CurrentUser\\My on Windows, the Android and ChromeOS user certificates). A machine certificate (the System keychain on a Mac, Cert:\\LocalMachine\\My on Windows) is never sent to a browser, so this page cannot see it. To check a machine certificate, connect to the VPN once, then look at the device under “Your devices” on the enrollment page: it says when the VPN last checked its certificate.',
  stepCheck: 'Check that it worked: open {url} in this device’s browser.',
  stepCheckMachine: 'Check that it worked: a browser never shows a machine certificate (so {url} cannot see it); once the computer has connected, “Your devices” on the enrollment page says when the VPN last checked its certificate.',
} as const

export type CheckMessageKey = keyof typeof en

const ja: Record<CheckMessageKey, string> = {
  checkTitle: 'デバイスの確認',
  checkIntro: 'このページでは、このブラウザーが送る証明書と、それが VPN に必要な証明書かどうかを確認できます。',
  checkAgain: 'もう一度確認',
  goDevicePage: 'デバイスのページを開く',
  noneTitle: 'このブラウザーは証明書を送りませんでした',
  noneBody: '証明書がこのブラウザーの探す場所にインストールされていないか、ブラウザーが証明書の選択を求めたときにキャンセルした可能性があります。',
  noneRetry: 'ブラウザーの確認をキャンセルした場合は、このブラウザーのウィンドウをすべて閉じてからこのページをもう一度開き、自分のメールアドレス宛ての証明書を選んでください。',
  where_macos: 'Mac では「キーチェーンアクセス」を開き、「ログイン」キーチェーンの「自分の証明書」を選んでください。メールアドレス名の証明書が秘密鍵と一緒にあるはずです。',
  where_windows: 'Windows では「ユーザー証明書の管理」(certmgr.msc) を開き、個人 › 証明書 (Cert:\\CurrentUser\\My) を選んでください。メールアドレス名の証明書があるはずです。',
  where_ios: 'iPhone や iPad では、設定 › 一般 › VPN とデバイス管理 を開いてください。{ca} のプロファイルがインストールされているはずです。',
  where_android: 'Android では、設定 › セキュリティ › 暗号化と認証情報 › ユーザー認証情報 を開いてください。証明書があるはずです。Chrome に証明書の選択を求められたら、それを選んでください。',
  where_chromeos: 'Chromebook では、設定 › プライバシーとセキュリティ › セキュリティ › 証明書の管理 › あなたの証明書 を開いてください。メールアドレス名の証明書があるはずです。',
  where_other: 'このブラウザーの証明書の設定を開き、{ca} が自分のメールアドレス宛てに発行した証明書を探してください。',
  redownload: '見つからない場合は、デバイスのページでこのデバイスの「もう一度ダウンロード」を選び、表示される手順で新しいファイルをインストールしてください。',
  foreignTitle: 'このブラウザーは別の発行元の証明書を送りました',
  foreignBody: '送られた証明書は {ca} が発行したものではないため、VPN では使えません。ブラウザーに聞かれたら、{ca} が自分のメールアドレス宛てに発行した証明書を選んでください。',
  foreignIssuer: '発行元: {issuer}',
  unknownTitle: 'これはデバイス用の証明書ではありません',
  unknownBody: '{ca} が発行した証明書ですが、人やコンピューター宛てのものではありません。ブラウザーに聞かれたら、自分のメールアドレス宛ての証明書を選んでください。',
  revokedTitle: 'この証明書は失効しています',
  revokedBody: '{device} の証明書は {date} に失効しました(デバイスの紛失が報告された場合など)。VPN はこの証明書を受け付けません。この証明書を削除し、デバイスのページで「もう一度ダウンロード」を選んで新しいファイルをインストールしてください。心当たりがない場合は IT ヘルプデスクに連絡してください。',
  supersededTitle: 'この証明書は新しい証明書に置き換えられています',
  supersededBody: '{device} の新しい証明書が {date} にダウンロードされたため、この証明書はもう使えません。新しいファイルをインストールし(またはデバイスのページで「もう一度ダウンロード」を選び)、ブラウザーや VPN が古い証明書を選ばないよう、この古い証明書を削除してください。',
  expiredTitle: 'この証明書は期限切れです',
  expiredBody: '{device} の証明書は {date} に期限が切れました。デバイスのページで「もう一度ダウンロード」を選んで新しいファイルをインストールし、古い証明書を削除してください。',
  readyTitle: 'このデバイスは準備ができています',
  readyBody: 'ブラウザーは {ca} の有効な証明書を送りました。VPN はこの証明書を受け付けます。',
  issuedTo: '発行先',
  deviceLabel: 'デバイス',
  kindLabel: '種類',
  validUntilLabel: '有効期限',
  serialLabel: 'シリアル',
  kindUser: 'ユーザー証明書(このデバイスで使う自分用)',
  kindMachine: 'マシン証明書(このコンピューター用、サインイン前に使用)',
  noDevice: 'デバイスの記録なし',
  platformMatch: '{certificate} のデバイス用に発行された証明書で、このブラウザーも {browser} で動いています。一致しています。',
  platformMismatch: '{certificate} のデバイス用に発行された証明書ですが、このブラウザーは {browser} で動いています。デバイスごとに証明書が必要です。デバイスのページでこのデバイスも登録してください。',
  platformUnknown: 'このブラウザーのプラットフォームを判別できなかったため、証明書の発行先のデバイスとは比較していません。',
  machineTitle: 'マシン証明書について',
  machineNote: 'ブラウザーが送るのはユーザー証明書だけです(Mac のログインキーチェーン、Windows の Cert:\\CurrentUser\\My、Android と ChromeOS のユーザー証明書)。マシン証明書(Mac のシステムキーチェーン、Windows の Cert:\\LocalMachine\\My)はブラウザーには送られないため、このページでは確認できません。マシン証明書は、一度 VPN に接続してから、登録ページの「あなたのデバイス」でそのデバイスを見てください。VPN が証明書を最後に確認した日時が表示されます。',
  stepCheck: 'うまくいったか確認する: このデバイスのブラウザーで {url} を開いてください。',
  stepCheckMachine: 'うまくいったか確認する: マシン証明書はブラウザーには表示されません({url} でも確認できません)。コンピューターが接続した後、登録ページの「あなたのデバイス」に VPN が証明書を最後に確認した日時が表示されます。',
}

const messages: Record<Lang, Record<CheckMessageKey, string>> = { en, ja }

/** A check-page sentence in the language, with its {name} placeholders filled (the template escapes them). */
export function checkText(lang: Lang, key: CheckMessageKey, params: Record<string, string | number> = {}): string {
  return fillPlaceholders(messages[lang][key], params)
}

/** The "where should the certificate be" sentence for a platform (unknown: the generic one). */
export function whereKey(platform: Platform | undefined): CheckMessageKey {
  return platform ? `where_${platform}` : 'where_other'
}

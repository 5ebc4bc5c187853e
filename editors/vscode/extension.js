// The sci extension: starts `sci lsp` and connects VS Code's language client to it.
//
// Everything language-specific (diagnostics, hover, completion, formatting, …) is done by
// the server; this file only finds the executable and restarts the server when the
// setting changes.
'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

function serverCommand() {
  const configured = vscode.workspace.getConfiguration('sci').get('server.path');
  return configured && configured.trim() !== '' ? configured : 'sci';
}

async function start() {
  const command = serverCommand();
  const server = { command, args: ['lsp'], transport: TransportKind.stdio };
  client = new LanguageClient(
    'sci',
    'sci',
    { run: server, debug: server },
    {
      documentSelector: [
        { scheme: 'file', language: 'sci' },
        { scheme: 'untitled', language: 'sci' },
      ],
    },
  );
  try {
    await client.start();
  } catch (err) {
    client = undefined;
    vscode.window.showErrorMessage(
      `Could not start the sci language server (\`${command} lsp\`): ${err}. ` +
        'Install sci or set "sci.server.path".',
    );
  }
}

async function activate(context) {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('sci.server.path')) {
        await deactivate();
        await start();
      }
    }),
  );
  await start();
}

async function deactivate() {
  if (client) {
    const running = client;
    client = undefined;
    await running.stop();
  }
}

module.exports = { activate, deactivate };

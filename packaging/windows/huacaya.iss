; Inno Setup script: a per-user installer with a Start-menu entry and an uninstaller.
; Built by packaging/build.py, which passes AppVersion, SourceDir, IconFile and OutputDir.
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif

[Setup]
AppId={{6E4C2F0A-5B7D-4C61-9C2B-8A3F1D2E7B10}
AppName=Huacaya
AppVersion={#AppVersion}
AppPublisher=Huacaya
DefaultDirName={autopf}\Huacaya
DefaultGroupName=Huacaya
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
OutputDir={#OutputDir}
OutputBaseFilename=Huacaya-{#AppVersion}-windows-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\huacaya.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Huacaya"; Filename: "{app}\huacaya.exe"
Name: "{group}\Uninstall Huacaya"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Huacaya"; Filename: "{app}\huacaya.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\huacaya.exe"; Description: "Start Huacaya"; Flags: nowait postinstall skipifsilent

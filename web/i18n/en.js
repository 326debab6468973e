// English: every text the client shows. A translation (e.g. de.js) exports
// an object with the same keys and is registered in index.js.

const en = {
    lang: 'en',
    appName: 'funkraum',
    tagline: 'Video meetings without accounts, tracking or stored data.',

    // Landing page
    landingHeading: 'Join a room',
    roomNameLabel: 'Room name',
    roomNameHint: 'Letters, digits, "-", "_" and "." only.',
    openRoom: 'Open room',
    or: 'or',
    createRoom: 'Create a new room',
    createRoomHint: 'A new room gets a random name nobody can guess. Share its link with the people you want to meet.',
    privacyLink: 'Privacy',

    // Name problems (see names.js)
    roomProblem: {
        empty: 'Enter a room name.',
        'too-long': 'A room name has at most 64 characters.',
        'bad-character': 'A room name may contain only letters, digits, "-", "_" and ".".',
        'leading-dot': 'A room name must not start with ".".',
        reserved: 'This name is used by the server itself; pick another.',
    },
    nicknameProblem: {
        empty: 'Enter your name.',
        'too-long': 'A name has at most 32 characters.',
        'bad-character': 'A name must not contain control or text-direction characters.',
        'leading-dot': 'This name is not allowed.',
        reserved: 'This name is not allowed.',
    },

    // Pre-join page
    prejoinHeading: (/** @type {string} */ room) => `Room “${room}”`,
    prejoinIntro: 'Check your camera and microphone, then join.',
    nicknameLabel: 'Your name',
    nicknameHint: 'Shown to the others in this room. Not stored anywhere.',
    cameraLabel: 'Camera',
    microphoneLabel: 'Microphone',
    noDevice: 'None found',
    deviceFallback: (/** @type {number} */ n) => `Device ${n}`,
    startMic: 'Microphone on when joining',
    startCam: 'Camera on when joining',
    previewLabel: 'Your camera preview',
    previewOff: 'Camera off',
    join: 'Join',
    joining: 'Joining…',
    back: 'Choose another room',
    copyLink: 'Copy link',
    linkCopied: 'Link copied.',
    linkNotCopied: 'Could not copy; the link is in the address bar.',
    mediaDenied: 'The browser did not allow camera or microphone. You can still join and only watch and listen, or allow access in the browser\'s site settings and reload.',
    mediaMissing: 'No camera or microphone was found. You can still join and only watch and listen.',
    cameraUnavailable: 'The camera cannot be used.',
    microphoneUnavailable: 'The microphone cannot be used.',
    insecureContext: 'Camera and microphone need a secure connection (https://).',

    // Room
    roomHeading: (/** @type {string} */ room) => `Room “${room}”`,
    you: (/** @type {string} */ name) => `${name} (you)`,
    micOn: 'Mute microphone',
    micOff: 'Unmute microphone',
    micLabel: 'Microphone',
    camLabel: 'Camera',
    camOn: 'Turn camera off',
    camOff: 'Turn camera on',
    participants: 'Participants',
    participantCount: (/** @type {number} */ n) => (n === 1 ? '1 participant' : `${n} participants`),
    leave: 'Leave',
    micMutedState: 'microphone off',
    micUnmutedState: 'microphone on',
    camOffState: 'camera off',
    camOnState: 'camera on',
    joinedNotice: (/** @type {string} */ name) => `${name} joined.`,
    leftNotice: (/** @type {string} */ name) => `${name} left.`,
    aloneHint: 'You are the only one here. Share the link to invite others.',
    connecting: 'Connecting media…',
    closePanel: 'Close',
    enableSound: 'Turn sound on',

    // After the room
    leftHeading: 'You left the room.',
    rejoin: 'Rejoin',
    toStart: 'Start page',
    reload: 'Reload',
    lostHeading: 'The connection was lost.',
    lostText: 'The connection to the server broke off. Reload to join again.',
    errorHeading: 'Something went wrong.',

    // Errors from the server (docs/protocol.md) and from the browser.
    errors: {
        'room-full': 'This room is full. Try again later or use another room.',
        'server-full': 'The server is busy right now. Try again in a few minutes.',
        'invalid-room': 'The server does not accept this room name.',
        'invalid-nickname': 'The server does not accept this name.',
        'unsupported-version': 'This page is out of date. Reload it.',
        'media-failed': 'The audio and video connection failed. Reload the page to rejoin.',
        'client-media': 'The audio and video connection failed. Reload the page to rejoin.',
        'client-connection': 'Cannot reach the server. Check your connection and try again.',
        internal: 'Something went wrong on the server. Reload the page to rejoin.',
        'rate-limited': 'Too many actions at once; slow down a little.',
    },
    unknownError: (/** @type {string} */ message) => `The server refused: ${message}`,
};

export default en;

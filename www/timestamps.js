// timestamps.js -- the time and broadcast demo pages: list the
// timestamps the app at the log's data-path sends.
'use strict';
(function () {
	var log = document.getElementById('log');
	var url = (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' +
	    location.host + log.dataset.path;
	var keep = 100;
	var pause = document.getElementById('pause');
	var status = document.getElementById('status');
	var paused = false;
	var missed = 0;
	var ws;

	// Appends one entry, drops the oldest past `keep`, keeps the newest
	// in view.
	function append(kind, text) {
		var li = document.createElement('li');

		li.className = kind;
		li.textContent = text;
		log.appendChild(li);
		while (log.children.length > keep)
			log.removeChild(log.firstElementChild);
		log.scrollTop = log.scrollHeight;
	}

	// Stops or resumes adding timestamps to the list (the socket stays
	// open); a list that updates itself must be able to stand still.
	pause.addEventListener('click', function () {
		paused = !paused;
		pause.setAttribute('aria-pressed', paused ? 'true' : 'false');
		pause.textContent = paused ? 'Resume' : 'Pause';
		if (!paused && missed > 0) {
			append('info', missed + (missed === 1 ? ' timestamp' :
			    ' timestamps') + ' skipped while paused');
			missed = 0;
		}
	});

	status.textContent = 'Connecting to ' + url + '\u2026';
	ws = new WebSocket(url);
	ws.onopen = function () {
		status.textContent = 'Connected.';
	};
	ws.onmessage = function (ev) {
		if (paused) {
			missed++;
			return;
		}
		append('timestamp', typeof ev.data === 'string' ? ev.data :
		    '(binary message)');
	};
	ws.onerror = function () {
		status.textContent = 'Connection error.';
	};
	ws.onclose = function (ev) {
		status.textContent = 'Closed (code ' + ev.code +
		    '). Reload the page to reconnect.';
		append('info', 'connection closed, code ' + ev.code);
	};
})();

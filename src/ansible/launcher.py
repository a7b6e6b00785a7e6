#!/usr/bin/python3
# sandbox's ansible-playbook in the controller: one process serves every pass of a run, so
# Ansible is imported once (during the SSH wait) and Mitogen's interpreters on the targets
# outlive pass 1: pass 2 does not connect, bootstrap and import again (~2 s under gVisor).
#
#   sandbox-ansible-playbook pass N STRATEGY MITOGEN
#
# hands this exec's stdout and stderr to the run's server (pass 1 starts it unless one
# already serves: a warm set's, started by `serve STRATEGY MITOGEN` and warmed by a pass 0)
# and exits with pass N's ansible-playbook status. The server waits for the pass's go file (the arguments,
# one per line, or `stop`), then runs ansible-playbook's own `main()` with that pass's
# arguments and SANDBOX_PASS, printing what a fresh ansible-playbook would print.
import os, socket, sys, threading, time

SOCKET = "/work/.sandbox-ansible.sock"
CHALLENGE = "/work/challenge"
LOG = "/work/.sandbox-ansible.log"


def go_file(n):
    return "/work/.sandbox-go-" + n


def hand_over(connection, n):
    """Gives the server this exec's stdout and stderr for pass n; exits with its status."""
    socket.send_fds(connection, [n.encode()], [1, 2])
    status = connection.recv(16)
    if not status:
        sys.stderr.write("sandbox: ansible-playbook ended without an exit status (killed)\n")
        sys.exit(137)
    sys.exit(int(status))


def forward(pipe):
    """Mitogen's multiplexers print to the pass under way, as they would in ansible-playbook."""
    while True:
        chunk = os.read(pipe, 65536)
        if not chunk:
            return
        os.write(2, chunk)


def prepare(strategy, mitogen):
    """Imports Ansible; returns what the import printed (config warnings), for every pass."""
    # Live output, line by line, without PYTHONUNBUFFERED (which every child would inherit).
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    log = os.open(LOG, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    from ansible.cli.playbook import main
    if strategy == "mitogen":
        sys.path.insert(0, mitogen)
        import ansible_mitogen.process
        # Start the multiplexers now, off the critical path. What they print reaches the pass
        # under way through a pipe this process forwards: they outlive every pass's stream.
        read, write = os.pipe()
        os.dup2(write, 1)
        os.dup2(write, 2)
        ansible_mitogen.process.get_classic_worker_model()
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(write)
        threading.Thread(target=forward, args=(read,), daemon=True).start()
    sys.stdout.flush()
    sys.stderr.flush()
    return main, log, os.pread(log, 1 << 20, 0)


def run_pass(main, n, words, printed):
    """One pass, as a fresh ansible-playbook would run it."""
    from ansible import context
    from ansible.utils.context_objects import GlobalCLIArgs
    from ansible.utils.display import Display
    # A singleton would keep the first pass's arguments (its --limit) for ever.
    GlobalCLIArgs._Singleton__instance = None
    context.CLIARGS = context.CLIArgs({})
    # Display prints a warning once per process: once per pass, as before.
    display = Display()
    display._warns, display._deprecations, display._errors = {}, {}, {}
    os.environ["SANDBOX_PASS"] = n
    # A warm set's challenge is replaced by the attempt's: the old directory is gone.
    os.chdir(CHALLENGE)
    os.write(2, printed)
    sys.argv = ["ansible-playbook"] + words
    try:
        main()
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def serve(listener, strategy, mitogen):
    try:
        main, log, printed = prepare(strategy, mitogen)
    except Exception:
        import traceback
        main, log, printed = None, 2, traceback.format_exc().encode()
    while True:
        connection, _ = listener.accept()
        message, fds, _, _ = socket.recv_fds(connection, 16, 2)
        if not message or len(fds) != 2:
            connection.close()  # a launcher that went away before it asked
            continue
        n = message.decode()
        while not os.path.exists(go_file(n)):
            time.sleep(0.005)
        with open(go_file(n)) as f:
            words = f.read().split("\n")
        code = 0
        if main is None:
            os.write(fds[1], b"sandbox: the controller could not start Ansible:\n" + printed)
            code = 250
        elif words != ["stop"]:
            os.dup2(fds[0], 1)
            os.dup2(fds[1], 2)
            code = run_pass(main, n, words, printed)
            os.dup2(log, 1)
            os.dup2(log, 2)
        for fd in fds:
            os.close(fd)
        try:
            connection.sendall(str(code).encode())
        except OSError:
            pass  # its launcher went away: the next pass is served all the same
        connection.close()


def start_server(strategy, mitogen):
    """Pass 1 starts the run's server: a child in a session of its own, listening before
    the fork so that this pass can connect at once."""
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(SOCKET)
    listener.listen(4)
    if os.fork() == 0:
        os.setsid()
        serve(listener, strategy, mitogen)
        os._exit(0)
    listener.close()


def connect():
    connection = socket.socket(socket.AF_UNIX)
    connection.connect(SOCKET)
    return connection


def launch():
    if sys.argv[1] == "serve":
        start_server(*sys.argv[2:4])
        return
    _, n, strategy, mitogen = sys.argv[1:5]
    try:
        connection = connect()
    except OSError as err:
        if n != "1":
            sys.stderr.write("sandbox: the controller's Ansible ended before pass %s (%s)\n" % (n, err))
            sys.exit(250)
        start_server(strategy, mitogen)
        connection = connect()
    hand_over(connection, n)


launch()

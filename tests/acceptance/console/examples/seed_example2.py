from moulti.client import moulti_connect, recv_json_message, send_json_message

filepath = '/etc/passwd'
with moulti_connect() as moulti_socket:
	# Create a new step:
	# moulti step add python --title="${filepath}:" --no-collapsed
    add_step_msg = {
		'command': 'step', 'action': 'add', 'id': 'python',
		'title': f'{filepath}:', 'collapsed': False,
	}
    send_json_message(moulti_socket, add_step_msg)
    recv_json_message(moulti_socket)

	# Fill that new step with the contents of a regular file: 
    with open(filepath) as filedesc:
		# moulti pass python < /etc/passwd
        pass_fd_msg = {'command': 'pass', 'id': 'python'}
        send_json_message(moulti_socket, pass_fd_msg, [filedesc.fileno()])
        recv_json_message(moulti_socket)

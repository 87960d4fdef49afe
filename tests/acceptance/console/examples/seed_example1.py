from moulti.client import send_to_moulti

# Create a new step:
# moulti step add python --title="Step created from Python" --no-collapsed
add_step_msg = {
	'command': 'step', 'action': 'add', 'id': 'python',
	'title': 'Step created from Python', 'collapsed': False,
}
send_to_moulti(add_step_msg)

# Generate text and update the step:
text = '\n'.join(['Python made this: ' + chr(i)*62 for i in range(33, 127)])
# moulti step update python --text="${text}"
set_text_msg = {
	'command': 'step', 'action': 'update', 'id': 'python',
	'text': text,
}
send_to_moulti(set_text_msg)

// Placeholder: this target's code lands with its issue.

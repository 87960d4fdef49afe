"""The scirocco-pyclient 2.1.3 client, assembled by hand from its DAO layer.

2.1.3's `sciroccoclient.client` uses `async` as a parameter name, a SyntaxError since Python 3.7,
so neither `clients.HTTPClient` nor `clientfactory` can be imported. This wires the same objects
exactly as `ClientFactory.get_http_client` does, and `V2Client` forwards each call to the DAO the
original `Client` facade forwards it to (including the message validator on push).
"""

import urllib3

from sciroccoclient.http.messagedao import MessageDAO
from sciroccoclient.http.messagequeuedao import MessageQueueDAO
from sciroccoclient.http.requestadapter import (RequestManagerContentTypeDetector,
                                                RequestManagerDataResponseHandler,
                                                RequestManagerResponseHandler, RequestsAdapter)
from sciroccoclient.messages import SciroccoMessage, SciroccoMessageValidator
from sciroccoclient.metadata import (MetaData, MetaDataDescriptor, MetaDataHTTPHeadersFilter,
                                     MetaDataHydrator)

__all__ = ["V2Client", "SciroccoMessage", "message"]


class V2Client:
    def __init__(self, api_url, node_id, auth_token):
        metadata_entity = MetaData()
        metadata_hydrator = MetaDataHydrator()
        metadata_descriptor = MetaDataDescriptor(metadata_entity)
        system_headers_filter = MetaDataHTTPHeadersFilter(metadata_descriptor)
        response_handler = RequestManagerResponseHandler(system_headers_filter, metadata_hydrator,
                                                         RequestManagerDataResponseHandler())
        adapter = RequestsAdapter(urllib3.PoolManager(), response_handler, metadata_descriptor,
                                  RequestManagerContentTypeDetector())
        adapter.api_url = api_url
        adapter.node_id = node_id
        adapter.auth_token = auth_token
        self.message_dao = MessageDAO(adapter, metadata_hydrator)
        self.message_queue_dao = MessageQueueDAO(adapter, metadata_descriptor)
        self.message_validator = SciroccoMessageValidator()

    def get(self, msg_id):
        return self.message_dao.get_one(msg_id)

    def get_all(self):
        return self.message_dao.get_all()

    def delete_one(self, msg_id):
        return self.message_dao.delete_one(msg_id)

    def delete_all(self):
        return self.message_dao.delete_all()

    def update_one(self, msg_id, new_payload):
        return self.message_dao.update_one(msg_id, new_payload)

    def pull(self):
        return self.message_queue_dao.pull()

    def push(self, message):
        self.message_validator.check(message)
        return self.message_queue_dao.push(message)

    def ack(self, msg_id):
        return self.message_queue_dao.ack(msg_id)


def message(destination, payload, payload_type=None, scheduled_time=None):
    m = SciroccoMessage()
    m.node_destination = destination
    m.payload = payload
    if payload_type:
        m.payload_type = payload_type
    if scheduled_time is not None:
        m.scheduled_time = scheduled_time  # the setter also makes the status "scheduled"
    return m
